import request from "supertest";
import {
  type Agent,
  type BackendKind,
  browser,
  CHROME_WINDOWS,
  csrfFrom,
  SAFARI_IPHONE,
  signIn,
  signUp,
  submit,
  type TestApp,
  withTestApp,
} from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

/**
 * What a screen reader's list of fields and a person after an error meet: each field named for
 * its row, each error at its field, the rows where they were, the rules of a new password
 * before anything is refused, and no notice about a session that has ended.
 */

/** The latest mail's link to this path on the test app (PUBLIC_URL is the default http://127.0.0.1:3000). */
function linkIn(t: TestApp, to: string, pathPattern: string): string {
  const mail = t.mails.filter((m) => m.to === to).at(-1);
  const m = mail && new RegExp(`http://127\\.0\\.0\\.1:3000(${pathPattern}\\?t=[A-Za-z0-9_.-]+)`).exec(mail.text);
  if (!m) throw new Error(`no ${pathPattern} link to ${to}`);
  return m[1]!;
}
const tokenOf = (path: string) => new URL(path, "http://x").searchParams.get("t")!;

/** The handles of the sessions page's rows, in their order. */
const rowOrder = (html: string) => [...html.matchAll(/action="\/settings\/sessions\/([A-Za-z0-9_-]{22})\/name"/g)].map((m) => m[1]);
/** The accessible names of the page's visible fields (their aria-label, which every field here has). */
const fieldNames = (html: string) =>
  [...html.matchAll(/<input (?![^>]*type="hidden")[^>]*>/g)].map((m) => /aria-label="([^"]*)"/.exec(m[0])?.[1] ?? `no aria-label: ${m[0]}`);
/** One input, by its id. */
const input = (html: string, id: string) => new RegExp(`<input id="${id}"[^>]*>`).exec(html)?.[0] ?? "";

describe.each<BackendKind>(backendKinds())("fields and notices (%s)", (kind) => {
  test("when a wrong password is entered to sign a device out, then the message sits at that row's field, tied to it, and the rows keep their order", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_REAUTH_WINDOW: "300" } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      clock.advance(30_000);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      // Past the window: the password is asked; the phone was active last.
      clock.advance(6 * 60 * 1000);
      const page = (await laptop.get("/settings/sessions")).text;
      const phone = /<p class="device">\s*<strong>Mobile Safari on iOS[\s\S]*?\/sessions\/([A-Za-z0-9_-]{22})\/name/.exec(page)![1]!;
      const res = await laptop
        .post(`/settings/sessions/${phone}/revoke`)
        .type("form")
        .send({ _csrf: csrfFrom(page), password: "not the password" });
      expect(res.status).toBe(422);
      expect(rowOrder(res.text)).toEqual(rowOrder(page));
      const field = input(res.text, `password-${phone}`);
      expect(field).toContain('aria-invalid="true"');
      expect(field).toContain(`aria-describedby="password-error-${phone}"`);
      const message = res.text.indexOf(`<p class="form-error" id="password-error-${phone}">That password is not correct.</p>`);
      expect(message).toBeGreaterThan(res.text.indexOf(field));
      // Not above the list, and no other field is marked.
      expect(res.text).not.toContain('id="sessions-error"');
      expect(res.text.match(/aria-invalid/g)).toHaveLength(1);

      const others = await laptop
        .post("/settings/sessions/revoke-others")
        .type("form")
        .send({ _csrf: csrfFrom(res.text), password: "" });
      expect(others.status).toBe(422);
      expect(input(others.text, "password-others")).toContain('aria-describedby="password-others-error"');
      expect(others.text).toContain('<p class="form-error" id="password-others-error">Enter your password to continue.</p>');
    });
  });

  test("when a device name is too long, then the message sits at that row's name field, with what was typed", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app);
      await signUp(laptop);
      const page = (await laptop.get("/settings/sessions")).text;
      const [handle] = rowOrder(page);
      const typed = "A name far longer than forty characters, typed";
      const res = await laptop
        .post(`/settings/sessions/${handle}/name`)
        .type("form")
        .send({ _csrf: csrfFrom(page), name: typed });
      expect(res.status).toBe(400);
      const field = input(res.text, `name-${handle}`);
      expect(field).toContain(`value="${typed}"`);
      expect(field).toContain('aria-invalid="true"');
      expect(res.text).toContain(`<p class="form-error" id="name-error-${handle}">A device name is at most 40 characters.</p>`);
    });
  });

  test("when the page lists several devices, the same browser twice among them, then every field has a name of its own", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_REAUTH_WINDOW: "300" } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      // The same browser and address again, a few minutes later.
      clock.advance(3 * 60 * 1000);
      await signIn(browser(t.app, CHROME_WINDOWS), account);
      clock.advance(6 * 60 * 1000);
      const names = fieldNames((await laptop.get("/settings/sessions")).text);
      // The new-sign-in notice's password, a name field per row, a password per other row, and the password for all others.
      expect(names).toHaveLength(1 + 3 + 2 + 1);
      expect(names[0]).toBe("Your password, to end the session on Chrome on Windows");
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => n.startsWith("Name this device: Chrome on Windows, "))).toHaveLength(2);
      expect(names).toContain("Your password, to sign out all other sessions");
    });
  });

  test("when a new password is asked for (a reset link, 'This wasn't me'), then its rules are under the field before anything is refused, and a refusal sits at the field", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const mailbox = request.agent(t.app);
      await submit(mailbox, "/password/forgot", "/password/forgot", { email: account.email });
      const reset = (await mailbox.get(linkIn(t, account.email, "/password/reset"))).text;
      expect(input(reset, "password")).toContain('aria-describedby="password-hint"');
      expect(reset).toContain('<p class="hint" id="password-hint">At least 8 characters, and not one of the most common passwords.</p>');

      await signIn(browser(t.app, SAFARI_IPHONE), account);
      const link = linkIn(t, account.email, "/settings/sessions/not-me");
      const confirm = await mailbox.get(link);
      const ended = await mailbox
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(confirm.text), t: tokenOf(link) });
      expect(ended.status).toBe(200);
      expect(input(ended.text, "new-password")).toContain('aria-describedby="new-password-rules"');
      expect(ended.text).toContain('<p class="hint" id="new-password-rules">At least 8 characters, and not one of the most common passwords.</p>');
      const token = /name="t" value="([^"]+)"/.exec(ended.text)![1];
      const refused = await mailbox
        .post("/settings/sessions/not-me/password")
        .type("form")
        .send({ _csrf: csrfFrom(ended.text), t: token, password: "short" });
      expect(refused.status).toBe(400);
      const field = input(refused.text, "new-password");
      expect(field).toContain('aria-describedby="new-password-rules new-password-error"');
      expect(field).toContain('aria-invalid="true"');
      expect(refused.text).toMatch(/<p class="form-error" id="new-password-error">New password must be at least 8 characters.<\/p>/);
      expect(refused.text).not.toContain('id="not-me-error"');
    });
  });

  test("when 'This wasn't me' ends the new sign-in, then the notice about it leaves every other session", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      expect((await laptop.get("/dashboard")).text).toContain("New sign-in:");
      const mailbox = request.agent(t.app);
      const link = linkIn(t, account.email, "/settings/sessions/not-me");
      const confirm = await mailbox.get(link);
      expect(
        (
          await mailbox
            .post("/settings/sessions/not-me")
            .type("form")
            .send({ _csrf: csrfFrom(confirm.text), t: tokenOf(link) })
        ).status,
      ).toBe(200);
      const after = (await laptop.get("/dashboard")).text;
      expect(after).not.toContain("New sign-in:");
      expect(after).not.toContain("Not you? End that session");
    });
  });

  test("when the notice's session ended some other way and 'Not you? End that session' is pressed, then the notice goes and says so, not a 404", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const phone: Agent = browser(t.app, SAFARI_IPHONE);
      await signIn(phone, account);
      // The phone signs itself out: the laptop's notice is about a session that is gone.
      await submit(phone, "/dashboard", "/logout", {});
      const page = (await laptop.get("/dashboard")).text;
      const action = /action="(\/settings\/sessions\/[A-Za-z0-9_-]{22}\/revoke)" class="inline notice-end"/.exec(page)![1]!;
      const res = await laptop
        .post(action)
        .type("form")
        .send({ _csrf: csrfFrom(page) });
      expect(res.status).toBe(303);
      const shown = (await laptop.get(res.headers.location)).text;
      expect(shown).toContain("That session had ended already.");
      expect(shown).not.toContain("New sign-in:");
    });
  });
});
