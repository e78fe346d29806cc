import request from "supertest";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import {
  type Agent,
  type BackendKind,
  browser,
  CHROME_WINDOWS,
  cookieOf,
  createTestApp,
  csrfFrom,
  SAFARI_IPHONE,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  type TestApp,
  withTestApp,
} from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

/**
 * The name a person gives a device belongs to the device: every new id its session gets
 * (a password change, the password entered again, signing in again, a role change) keeps it.
 */

/** A laptop (Chrome) named "Work laptop" and a phone (Safari), both signed in to one account. */
async function namedLaptop(t: TestApp) {
  const laptop = browser(t.app, CHROME_WINDOWS);
  const phone = browser(t.app, SAFARI_IPHONE);
  const account = await signUp(laptop);
  await signIn(phone, account);
  const userId = (await t.deps.users.findByEmail(account.email))!.id;
  const before = await laptopRow(t, userId);
  expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${before.handle}/name`, { name: "Work laptop" })).status).toBe(303);
  expect((await laptopRow(t, userId)).name).toBe("Work laptop");
  return { laptop, phone, account, userId, handle: before.handle };
}

/** The laptop's session as the store lists it. */
async function laptopRow(t: TestApp, userId: string) {
  const rows = (await t.deps.sessions.listUserSessions(userId)).filter((s) => s.userAgent === CHROME_WINDOWS);
  expect(rows).toHaveLength(1);
  return rows[0];
}

/** What the laptop's own sessions page shows in its "This device" row. */
async function ownRow(laptop: Agent): Promise<string> {
  const html = (await laptop.get("/settings/sessions")).text;
  const start = html.lastIndexOf('<li class="session current">');
  return html.slice(start, html.indexOf("</li>", start));
}

describe.each<BackendKind>(backendKinds())("a device's name follows its session to a new id (%s)", (kind) => {
  test("when the password is changed, then this device has a new id and keeps its name", async () => {
    await withTestApp(kind, {}, async (t) => {
      const { laptop, userId, handle } = await namedLaptop(t);
      const res = await submit(laptop, "/settings/password", "/settings/password", {
        current_password: "correct horse battery",
        new_password: "a brand new passphrase",
      });
      expect(res.status).toBe(303);
      expect(cookieOf(res)).toMatch(/^sid=/);
      const after = await laptopRow(t, userId);
      expect(after.handle).not.toBe(handle);
      expect(after.name).toBe("Work laptop");
      expect(await ownRow(laptop)).toContain("Work laptop");
    });
  });

  test("when the device signs out and signs in again in the same browser, then it keeps its name; another account or another browser does not get it", async () => {
    await withTestApp(kind, {}, async (t) => {
      const { laptop, account, userId } = await namedLaptop(t);
      expect((await submit(laptop, "/dashboard", "/logout", {})).status).toBe(303);
      expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(1);
      expect((await signIn(laptop, account)).status).toBe(303);
      expect((await laptopRow(t, userId)).name).toBe("Work laptop");
      expect(await ownRow(laptop)).toContain("<bdi>Work laptop</bdi>");
      // Another account signing in with the same browser: its own device, unnamed.
      await submit(laptop, "/dashboard", "/logout", {});
      const other = await signUp(browser(t.app, SAFARI_IPHONE));
      expect((await signIn(laptop, other)).status).toBe(303);
      expect(await ownRow(laptop)).not.toContain("<bdi>Work laptop</bdi>");
      // Another browser of the same kind, signing in to the first account: not that device.
      const desk = browser(t.app, CHROME_WINDOWS);
      expect((await signIn(desk, account)).status).toBe(303);
      expect(await ownRow(desk)).not.toContain("<bdi>Work laptop</bdi>");
    });
  });

  test("when the password is entered again to sign another device out, then this device has a new id and keeps its name", async () => {
    const clock = testClock();
    await withTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1" }, clock }, async (t) => {
      const { laptop, userId, handle } = await namedLaptop(t);
      const phone = (await t.deps.sessions.listUserSessions(userId)).find((s) => s.userAgent === SAFARI_IPHONE)!;
      clock.advance(1100);
      const res = await submit(laptop, "/settings/sessions", `/settings/sessions/${phone.handle}/revoke`, { password: "correct horse battery" });
      expect(res.status).toBe(303);
      const after = await laptopRow(t, userId);
      expect(after.handle).not.toBe(handle);
      expect(after.name).toBe("Work laptop");
      expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(1);
    });
  });

  test("when a signed-in device signs in again at the cap (SESSION_LIMIT_POLICY=ask), then it is not asked to end another device, and keeps its name", async () => {
    await withTestApp(kind, { env: { SESSION_MAX_PER_USER: "2", SESSION_LIMIT_POLICY: "ask" } }, async (t) => {
      const { laptop, phone, account, userId, handle } = await namedLaptop(t);
      // The sign-in form, posted from a signed-in page (the sign-in page itself sends a signed-in browser on).
      const res = await submit(laptop, "/dashboard", "/login", { email: account.email, password: account.password });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/dashboard");
      const after = await laptopRow(t, userId);
      expect(after.handle).not.toBe(handle);
      expect(after.name).toBe("Work laptop");
      expect((await phone.get("/dashboard")).status).toBe(200);
    });
  });

  test("when an administrator changes the account's role, then the device's next request has a new id and keeps its name", async () => {
    await withTestApp(kind, {}, async (t) => {
      const { laptop, account, userId, handle } = await namedLaptop(t);
      await setRole(t.deps.users, t.deps.kit, account.email, "admin", OPERATOR);
      const res = await laptop.get("/dashboard");
      expect(res.status).toBe(200);
      expect(cookieOf(res)).toMatch(/^sid=/);
      const after = await laptopRow(t, userId);
      expect(after.handle).not.toBe(handle);
      expect(after.name).toBe("Work laptop");
    });
  });
});

// The waiting sign-in of a device that was signed in already happens when the cap was lowered
// under sessions that exist: a second server over the same Redis keys, with the lower cap.
describe("a device's name through the waiting sign-in (Redis, the cap lowered)", () => {
  test("when a named device signs in again over the lowered cap and picks a session to end, then it keeps its name", async () => {
    const before = await createTestApp("redis");
    const after = await createTestApp("redis", { shareWith: before, env: { SESSION_MAX_PER_USER: "2", SESSION_LIMIT_POLICY: "ask" } });
    try {
      const { laptop, account, userId, handle } = await namedLaptop(before);
      await signIn(browser(before.app, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"), account);
      expect(await before.deps.sessions.listUserSessions(userId)).toHaveLength(3);

      // The laptop's cookies, against the server with the lower cap, kept as a browser keeps them.
      const jar = new Map<string, string>();
      const keep = <R extends { headers: Record<string, unknown> }>(res: R): R => {
        for (const c of [res.headers["set-cookie"] ?? []].flat() as string[]) {
          const [pair] = c.split(";");
          jar.set(pair.slice(0, pair.indexOf("=")), pair);
        }
        return res;
      };
      keep({ headers: { "set-cookie": [sentSessionCookie(await laptop.get("/dashboard"))!] } });
      const cookies = () => [...jar.values()].join("; ");
      const dashboard = keep(await request(after.app).get("/dashboard").set("User-Agent", CHROME_WINDOWS).set("Cookie", cookies()));
      const res = keep(
        await request(after.app)
          .post("/login")
          .set("User-Agent", CHROME_WINDOWS)
          .set("Cookie", cookies())
          .type("form")
          .send({ _csrf: csrfFrom(dashboard.text), email: account.email, password: account.password }),
      );
      expect(res.headers.location).toBe("/settings/sessions/choose");
      const page = keep(await request(after.app).get("/settings/sessions/choose").set("User-Agent", CHROME_WINDOWS).set("Cookie", cookies()));
      const firefox = (await after.deps.sessions.listUserSessions(userId)).find((s) => s.userAgent.includes("Firefox"))!.handle;
      const chosen = await request(after.app)
        .post("/settings/sessions/choose")
        .set("User-Agent", CHROME_WINDOWS)
        .set("Cookie", cookies())
        .type("form")
        .send({ _csrf: csrfFrom(page.text), end: firefox });
      expect(chosen.status).toBe(303);
      const row = await laptopRow(after, userId);
      expect(row.handle).not.toBe(handle);
      expect(row.name).toBe("Work laptop");
    } finally {
      await after.close();
      await before.close();
    }
  });
});
