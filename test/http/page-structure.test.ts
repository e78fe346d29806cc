import request from "supertest";
import { type Agent, type BackendKind, browser, CHROME_WINDOWS, csrfFrom, SAFARI_IPHONE, signIn, signUp, type TestApp, withTestApp } from "../helpers/app";
import { backendKinds } from "../helpers/topology";

/** What a page is made of, as text browsers and screen readers meet it: headings, the header, links. */

const h1s = (html: string) => html.match(/<h1[\s>]/g)?.length ?? 0;
/** The signed-in header: its Sign out form. */
const signedInHeader = (html: string) => html.includes('action="/logout"');

/** The "This wasn't me" link of the latest mail to this address, as a path on the test app. */
function notMeLink(t: TestApp, email: string): { path: string; token: string } {
  const mail = t.mails.filter((m) => m.to === email).at(-1)!;
  const path = /https?:\/\/[^/\s]+(\/settings\/sessions\/not-me\?t=[A-Za-z0-9_.-]+)/.exec(mail.text)![1];
  return { path, token: new URL(path, "http://x").searchParams.get("t")! };
}

async function sendNotMe(agent: Agent, link: { path: string; token: string }) {
  const page = await agent.get(link.path);
  expect(page.status).toBe(200);
  const res = await agent
    .post("/settings/sessions/not-me")
    .type("form")
    .send({ _csrf: csrfFrom(page.text), t: link.token });
  return { page, res };
}

describe.each<BackendKind>(backendKinds())("pages that work for everyone (%s)", (kind) => {
  test("when the new-sign-in notice is shown on the sessions page, then it does not link to that page; elsewhere it does", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      const dashboard = (await laptop.get("/dashboard")).text;
      expect(dashboard).toContain("New sign-in: <strong>Mobile Safari on iOS</strong>");
      expect(dashboard).toContain('<a href="/settings/sessions">Review sessions</a>');
      const sessions = (await laptop.get("/settings/sessions")).text;
      expect(sessions).toContain("New sign-in: <strong>Mobile Safari on iOS</strong>");
      expect(sessions).not.toContain("Review sessions");
    });
  });

  test("when a sign-in alert's link is opened, signed out or signed in, then the page has one h1 and no settings heading", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      const link = notMeLink(t, account.email);
      for (const reader of [request.agent(t.app), laptop]) {
        const page = (await reader.get(link.path)).text;
        expect(h1s(page)).toBe(1);
        expect(page).toContain("<h1>Was this you?</h1>");
        expect(page).not.toContain("<h1>Settings</h1>");
      }
    });
  });

  test("when 'It was not me' is sent from the browser the alert is about, then the page after it shows no signed-in header", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      // The sign-up's own alert is about the laptop: it is read on the laptop.
      const { page, res } = await sendNotMe(laptop, notMeLink(t, account.email));
      expect(signedInHeader(page.text)).toBe(true);
      expect(res.status).toBe(200);
      expect(res.text).toContain("That session has ended");
      expect(signedInHeader(res.text)).toBe(false);
      expect(res.text).not.toContain('href="/settings/sessions"');
      expect(h1s(res.text)).toBe(1);
    });
  });

  test("when a signed-in browser sets a new password from an alert about another device, then the page after it shows no signed-in header", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      const { res } = await sendNotMe(laptop, notMeLink(t, account.email));
      // The laptop's own session goes on until the new password ends every session.
      expect(signedInHeader(res.text)).toBe(true);
      const token = /name="t" value="([^"]+)"/.exec(res.text)![1];
      const done = await laptop
        .post("/settings/sessions/not-me/password")
        .type("form")
        .send({ _csrf: csrfFrom(res.text), t: token, password: "a brand new passphrase" });
      expect(done.status).toBe(200);
      expect(done.text).toContain("every session of your account has ended");
      expect(signedInHeader(done.text)).toBe(false);
      expect(h1s(done.text)).toBe(1);
      expect((await laptop.get("/dashboard")).status).toBe(303);
    });
  });

  test("when a sign-in waits for a session to be chosen (SESSION_LIMIT_POLICY=ask), then its page has one h1", async () => {
    await withTestApp(kind, { env: { SESSION_MAX_PER_USER: "1", SESSION_LIMIT_POLICY: "ask" } }, async (t) => {
      const account = await signUp(browser(t.app));
      const phone = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(phone, account)).headers.location).toBe("/settings/sessions/choose");
      const page = (await phone.get("/settings/sessions/choose")).text;
      expect(h1s(page)).toBe(1);
      expect(page).toContain("<h1>Choose a session to end</h1>");
      expect(signedInHeader(page)).toBe(false);
    });
  });

  test("when the dashboard is read without CSS, then each card's title and words are blocks of their own", async () => {
    await withTestApp(kind, {}, async (t) => {
      const laptop = browser(t.app);
      await signUp(laptop);
      const page = (await laptop.get("/dashboard")).text;
      expect(page).toContain('<li class="card"><h2><a href="/settings/sessions">Your sessions</a></h2><p>See where');
      expect(h1s(page)).toBe(1);
    });
  });
});
