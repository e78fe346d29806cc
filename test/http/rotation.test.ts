import request from "supertest";
import { browser, CHROME_WINDOWS, cookieOf, SAFARI_IPHONE, sentSessionCookie, signIn, signUp, withTestApp } from "../helpers/app";
import { testClock } from "../helpers/stores";
import { redisName } from "../helpers/topology";

const MINUTE = 60 * 1000;
const kinds = ["embedded", "redis"] as const;

/** A request carrying only this session cookie, as a second browser with a copied cookie would send it. */
/** A request of the same browser (another tab, a response it lost): its user agent, a cookie it holds. */
function withCookie(app: Parameters<typeof request>[0], cookie: string, path = "/dashboard") {
  return request(app).get(path).set("Cookie", cookie).set("User-Agent", CHROME_WINDOWS);
}

describe.each(kinds)("stolen-cookie detection by rotation (%s)", (kind) => {
  const name = kind === "redis" ? redisName() : "embedded";

  test(`when a signed-in session is older than the interval, then its next request gets a new id with its data, and the old id works within the grace (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const before = sentSessionCookie(await laptop.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      const rotated = await laptop.get("/dashboard");
      expect(rotated.status).toBe(200);
      const after = cookieOf(rotated)?.split(";")[0];
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      expect(rotated.text).toContain("Ada Lovelace");
      // A tab that still sends the previous id, within the grace: served, and given the current id.
      clock.advance(30 * 1000);
      const tab = await withCookie(t.app, before);
      expect(tab.status).toBe(200);
      expect(cookieOf(tab)?.split(";")[0]).toBe(after);
      const user = (await t.deps.users.findByEmail(account.email))!;
      expect(await t.deps.kit.getUserSessions(user.id)).toHaveLength(1);
    });
  });

  test("when two requests of one browser are the first after the interval at once, then one new id serves both, and the device keeps its name", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const [row] = await t.deps.kit.getUserSessions(user.id);
      await t.deps.kit.store.nameUserSession(user.id, row.handle, "Work laptop");
      const before = sentSessionCookie(await laptop.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      const answers = await Promise.all([withCookie(t.app, before), withCookie(t.app, before)]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      const given = answers.map((a) => cookieOf(a)?.split(";")[0]).filter(Boolean);
      expect(new Set(given).size).toBe(1);
      const rows = await t.deps.kit.getUserSessions(user.id);
      expect(rows).toHaveLength(1);
      expect(rows[0].handle).not.toBe(row.handle);
      expect(rows[0].name).toBe("Work laptop");
    });
  });

  test("when the response with the new id was lost, then the old id after the grace is not theft: that browser gets the current id", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const laptop = browser(t.app);
      await signUp(laptop);
      const before = sentSessionCookie(await laptop.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      // The rotating request's answer never reaches the browser.
      const lost = await withCookie(t.app, before);
      const current = cookieOf(lost)!.split(";")[0];
      clock.advance(5 * MINUTE);
      const again = await withCookie(t.app, before);
      expect(again.status).toBe(200);
      expect(cookieOf(again)?.split(";")[0]).toBe(current);
      expect((await withCookie(t.app, current)).status).toBe(200);
    });
  });

  test("when a copied cookie is used after the owner's browser moved to the new id, then the session ends for both, each is told, and the owner gets a mail", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const copied = sentSessionCookie(await laptop.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      expect((await laptop.get("/dashboard")).status).toBe(200); // rotated: the laptop holds the new id
      expect((await laptop.get("/dashboard")).status).toBe(200); // and uses it
      clock.advance(2 * MINUTE);
      const thief = await withCookie(t.app, copied);
      expect(thief.status).toBe(303);
      expect(thief.headers.location).toMatch(/^\/login/);
      const owner = await laptop.get("/dashboard");
      expect(owner.status).toBe(303);
      const signInPage = await laptop.get(owner.headers.location);
      expect(signInPage.text).toContain("a copy of your session cookie was used on another device");
      const user = (await t.deps.users.findByEmail(account.email))!;
      expect(await t.deps.kit.getUserSessions(user.id)).toEqual([]);
      const { entries } = await t.deps.activity.list(user.id, { limit: 5 });
      expect(entries.map((e) => e.type)).toContain("session_stolen");
      expect(t.mails.filter((m) => m.to === account.email).map((m) => m.subject)).toContainEqual(expect.stringContaining("its cookie was copied"));
    });
  });

  test("when SESSION_SECRET was rotated since, then an id rotated under the older secret is still followed", async () => {
    const clock = testClock();
    const older = "an older session secret of thirty-two or more";
    await withTestApp(kind, { clock, env: { SESSION_SECRET: older } }, async (before) => {
      const laptop = browser(before.app);
      await signUp(laptop);
      const first = sentSessionCookie(await laptop.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      const lost = await withCookie(before.app, first); // rotated under the older secret; the answer is lost
      const current = cookieOf(lost)!.split(";")[0];
      // The server restarts with a new first secret, the older one still verifying.
      await withTestApp(kind, { clock, shareWith: before, env: { SESSION_SECRET: `a newer session secret of thirty-two or more,${older}` } }, async (after) => {
        clock.advance(5 * MINUTE);
        const again = await withCookie(after.app, first);
        expect(again.status).toBe(200);
        // The same session id, signed now with the newer secret.
        const idOf = (cookie: string | undefined) =>
          decodeURIComponent(cookie ?? "")
            .split(";")[0]
            .replace(/^sid=s:/, "")
            .split(".")[0];
        expect(idOf(cookieOf(again))).toBe(idOf(current));
      });
    });
  });

  test("when an account is at SESSION_MAX_PER_USER and one of its sessions gets a new id, then no other device is signed out for it", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_MAX_PER_USER: "2" } }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      clock.advance(1000);
      const phone = browser(t.app, SAFARI_IPHONE);
      await signIn(phone, account);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const handles = (await t.deps.kit.getUserSessions(user.id)).map((s) => s.handle);
      expect(handles).toHaveLength(2);
      clock.advance(16 * MINUTE);
      // The phone was active last: it rotates first, while the laptop is the least recently active.
      expect((await phone.get("/dashboard")).status).toBe(200);
      expect((await laptop.get("/dashboard")).status).toBe(200);
      const after = await t.deps.kit.getUserSessions(user.id);
      expect(after).toHaveLength(2);
      expect(after.map((s) => s.handle).filter((h) => !handles.includes(h))).toHaveLength(2);
    });
  });

  test("when SESSION_ROTATE_INTERVAL is 0, then a session keeps its id", async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_ROTATE_INTERVAL: "0" } }, async (t) => {
      const laptop = browser(t.app);
      await signUp(laptop);
      const before = sentSessionCookie(await laptop.get("/dashboard"));
      clock.advance(60 * MINUTE);
      const later = await laptop.get("/dashboard");
      expect(later.status).toBe(200);
      expect(sentSessionCookie(await laptop.get("/dashboard"))).toBe(before);
    });
  });
});
