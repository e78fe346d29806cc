import { randomBytes } from "node:crypto";
import type { SessionData } from "express-session";
import { handleOf } from "../src/package/session-store/session-record";
import { peekState, type SessionState } from "../src/package/session-store/session-store";
import type { UserSnapshot } from "../src/package/users/account";
import { readSession, type StoreFactory, type StoreUnderTest, withState } from "./helpers/stores";

/**
 * The one suite every session store must pass (after Lucia's testAdapter). Each store
 * implementation calls it from session-store.test.ts.
 */
export function describeSessionStore(name: string, factory: StoreFactory): void {
  describe(`session store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    afterEach(async () => subject?.close());

    const sid = () => randomBytes(24).toString("base64url");
    const snapshot = (over: Partial<UserSnapshot> = {}): UserSnapshot => ({
      name: "Ada",
      email: "ada@example.com",
      role: "user",
      org: null,
      ver: 1,
      cv: 1,
      ...over,
    });
    const signedIn = (userId: string, over: Partial<SessionState> = {}): SessionData =>
      withState({ cookie: {} as SessionData["cookie"] }, { userId, user: snapshot(), userAgent: "UA", ip: "192.0.2.1", ...over });

    test("when a site signs a user out everywhere with all() and destroy(), then each session all() listed ends, and a key with a made-up MAC or a bare handle ends nothing", async () => {
      subject = await factory();
      const ids = [sid(), sid(), sid()];
      for (const id of ids.slice(0, 2)) await subject.store.set(id, signedIn("u1"));
      await subject.store.set(ids[2], signedIn("u2"));
      const all = (await subject.store.all!(undefined as never)) as unknown as Record<string, SessionData>;
      const hers = Object.entries(all).filter(([, sess]) => peekState(sess)?.userId === "u1");
      expect(hers).toHaveLength(2);
      // A key with a made-up MAC, and the bare handle (what a cookie could name): no session of u2's ends.
      const [handle] = Object.keys(all)
        .find((key) => peekState(all[key])?.userId === "u2")!
        .split(".");
      await subject.store.destroy(`${handle}.${"A".repeat(22)}`, undefined as never);
      await subject.store.destroy(handle, undefined as never);
      expect(await subject.store.listUserSessions("u2")).toHaveLength(1);
      for (const [key] of hers) await subject.store.destroy(key, undefined as never);
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
      for (const id of ids.slice(0, 2)) expect(await readSession(subject.store, id)).toBeNull();
      expect(await readSession(subject.store, ids[2])).not.toBeNull();
    });

    test("when a session was never written, then get answers null", async () => {
      subject = await factory();
      await expect(subject.store.get(sid(), undefined as never)).resolves.toBeNull();
    });

    test("when a visitor's session is written, then it reads back with a rebuilt cookie", async () => {
      subject = await factory();
      const id = sid();
      await subject.store.set(id, withState({ cookie: {} as SessionData["cookie"] }, { csrfToken: "tok" }));
      const got = (await readSession(subject.store, id))!;
      expect(peekState(got)?.csrfToken).toBe("tok");
      expect(peekState(got)?.createdAt).toEqual(expect.any(Number));
      expect(got.cookie).toMatchObject({ httpOnly: true, path: "/", sameSite: "lax", originalMaxAge: null });
    });

    test("when express-session's optional all, length and clear are called, then they count and end this store's live sessions only", async () => {
      subject = await factory();
      const ids = [sid(), sid(), sid()];
      await subject.store.set(ids[0], withState({ cookie: {} as SessionData["cookie"] }, { csrfToken: "a" }));
      await subject.store.set(ids[1], signedIn("u1"));
      await subject.store.set(ids[2], signedIn("u2"));
      await subject.store.endUserSession("u2", handleOf(ids[2]), { reason: "admin", at: subject.clock.now() });
      const count = (cb: (err: unknown, n?: number) => void) => subject.store.length!(cb);
      await expect(new Promise((resolve, reject) => count((err, n) => (err ? reject(err) : resolve(n))))).resolves.toBe(2);
      const all = (await subject.store.all!(undefined as never)) as unknown as Record<string, SessionData>;
      // Keyed by handle (the store keeps no raw id), signed so that destroy() takes it.
      expect(
        Object.keys(all)
          .map((key) => key.split(".")[0])
          .sort(),
      ).toEqual([handleOf(ids[0]), handleOf(ids[1])].sort());
      expect(
        Object.values(all)
          .map((sess) => peekState(sess)?.userId ?? null)
          .sort(),
      ).toEqual(["u1", null].sort());
      await subject.store.clear!(undefined as never);
      await expect(subject.store.length!(undefined as never)).resolves.toBe(0);
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
    });

    test("when a signed-in session is created, then it is listed under its user with its device data", async () => {
      subject = await factory();
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      const rows = await subject.store.listUserSessions("u1");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ handle: handleOf(id), userAgent: "UA", ip: "192.0.2.1", persistent: false });
      expect(rows[0].expiresAt).toBeGreaterThan(subject.clock.now());
      expect(await subject.store.listUserSessions("u2")).toEqual([]);
    });

    test("when a remembered session is read, then its cookie expires with the session", async () => {
      subject = await factory();
      const id = sid();
      await subject.store.set(id, signedIn("u1", { persistent: true }));
      const got = (await readSession(subject.store, id))!;
      const [row] = await subject.store.listUserSessions("u1");
      expect(new Date(got.cookie.expires as Date).getTime()).toBe(row.expiresAt);
    });

    test("when a session is ended while a request that loaded it is in flight, then that request's write does not bring it back", async () => {
      subject = await factory();
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      const inFlight = (await readSession(subject.store, id))!;
      expect(await subject.store.endUserSession("u1", handleOf(id))).toBe(true);
      peekState(inFlight)!.flash = { kind: "info", text: "changed by the slow request" };
      peekState(inFlight)!.lastActiveAt = subject.clock.now();
      await subject.store.set(id, inFlight);
      await subject.store.touch!(id, inFlight);
      expect(await readSession(subject.store, id)).toBeNull();
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
    });

    test("when a session is destroyed, then a late write of it is dropped too", async () => {
      subject = await factory();
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      const inFlight = (await readSession(subject.store, id))!;
      await subject.store.destroy(id);
      // The slow request's session object, changed by its site (express-session hands the same object to set).
      (inFlight as SessionData & { cart?: string[] }).cart = ["late"];
      await subject.store.set(id, inFlight);
      expect(await readSession(subject.store, id)).toBeNull();
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
    });

    test("when the handle belongs to another user, then revoking it ends nothing", async () => {
      subject = await factory();
      const mine = sid();
      const theirs = sid();
      await subject.store.set(mine, signedIn("me"));
      await subject.store.set(theirs, signedIn("them"));
      expect(await subject.store.endUserSession("me", handleOf(theirs))).toBe(false);
      expect(await readSession(subject.store, theirs)).not.toBeNull();
      expect(await subject.store.endUserSession("me", "AAAAAAAAAAAAAAAAAAAAAA")).toBe(false);
    });

    test("when all other sessions are ended, then only the kept one remains", async () => {
      subject = await factory();
      const ids = [sid(), sid(), sid()];
      for (const id of ids) await subject.store.set(id, signedIn("u1"));
      await subject.store.set(sid(), signedIn("u2"));
      expect(await subject.store.endUserSessions("u1", handleOf(ids[0]))).toBe(2);
      expect((await subject.store.listUserSessions("u1")).map((r) => r.handle)).toEqual([handleOf(ids[0])]);
      expect(await readSession(subject.store, ids[1])).toBeNull();
      expect(await subject.store.listUserSessions("u2")).toHaveLength(1);
      expect(await subject.store.endUserSessions("u1")).toBe(1);
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
    });

    test("when sessions are listed, then the most recently active comes first", async () => {
      subject = await factory();
      const now = subject.clock.now();
      const [a, b, c] = [sid(), sid(), sid()];
      await subject.store.set(a, signedIn("u1", { lastActiveAt: now - 3000 }));
      await subject.store.set(b, signedIn("u1", { lastActiveAt: now - 1000 }));
      await subject.store.set(c, signedIn("u1", { lastActiveAt: now - 2000 }));
      expect((await subject.store.listUserSessions("u1")).map((r) => r.handle)).toEqual([b, c, a].map(handleOf));
    });

    test("when a user would pass the cap, then the least recently active session ends", async () => {
      subject = await factory({ maxSessionsPerUser: 3 });
      const now = subject.clock.now();
      const ids = [sid(), sid(), sid(), sid()];
      await subject.store.set(ids[0], signedIn("u1", { lastActiveAt: now - 1000 }));
      await subject.store.set(ids[1], signedIn("u1", { lastActiveAt: now - 5000 }));
      await subject.store.set(ids[2], signedIn("u1", { lastActiveAt: now - 2000 }));
      await subject.store.set(ids[3], signedIn("u1"));
      const rows = await subject.store.listUserSessions("u1");
      expect(rows.map((r) => r.handle).sort()).toEqual([ids[0], ids[2], ids[3]].map(handleOf).sort());
      expect(await readSession(subject.store, ids[1])).toBeNull();
    });

    test("when a session idles past the timeout, then it is gone and pruned from the index", async () => {
      subject = await factory({ lifetime: { idle: 400, absolute: 10_000 } });
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      subject.clock.advance(600);
      expect(await readSession(subject.store, id)).toBeNull();
      expect(await subject.store.listUserSessions("u1")).toEqual([]);
    });

    test("when a session without 'remember me' idles past the browser idle timeout, then it ends; a remembered one stays", async () => {
      subject = await factory({ lifetime: { idle: 10_000, browserIdle: 400, absolute: 20_000 } });
      const browserOnly = sid();
      const remembered = sid();
      await subject.store.set(browserOnly, signedIn("u1"));
      await subject.store.set(remembered, signedIn("u1", { persistent: true }));
      subject.clock.advance(600);
      expect(await readSession(subject.store, browserOnly)).toBeNull();
      expect(await readSession(subject.store, remembered)).not.toBeNull();
      expect((await subject.store.listUserSessions("u1")).map((r) => r.handle)).toEqual([handleOf(remembered)]);
    });

    test("when a session is kept active past its absolute lifetime, then it ends all the same", async () => {
      subject = await factory({ lifetime: { idle: 600, absolute: 900, updateAge: 0 } });
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      for (let i = 0; i < 4; i++) {
        subject.clock.advance(300);
        const sess = await readSession(subject.store, id);
        if (!sess) break;
        peekState(sess)!.lastActiveAt = subject.clock.now();
        await subject.store.set(id, sess);
      }
      expect(await readSession(subject.store, id)).toBeNull();
    });

    test("when touched inside the update window, then nothing is written and the store answers at once; after it, last activity moves", async () => {
      subject = await factory({ lifetime: { updateAge: 1000 } });
      const id = sid();
      await subject.store.set(id, signedIn("u1"));
      const [before] = await subject.store.listUserSessions("u1");
      const sess = (await readSession(subject.store, id))!;
      // Before touch returns: express-session then ends the page in one socket write, not two.
      let answered = false;
      subject.store.touch!(id, sess, () => {
        answered = true;
      });
      expect(answered).toBe(true);
      expect((await subject.store.listUserSessions("u1"))[0].lastActiveAt).toBe(before.lastActiveAt);
      subject.clock.advance(1100);
      await subject.store.touch!(id, (await readSession(subject.store, id))!);
      expect((await subject.store.listUserSessions("u1"))[0].lastActiveAt).toBeGreaterThan(before.lastActiveAt);
    });

    test("when the account changes, then every session of the user shows it and an older write cannot undo it", async () => {
      subject = await factory();
      const [a, b] = [sid(), sid()];
      await subject.store.set(a, signedIn("u1"));
      await subject.store.set(b, signedIn("u1"));
      const stale = (await readSession(subject.store, a))!;
      await subject.store.updateUserSnapshot("u1", snapshot({ name: "Grace", role: "admin", ver: 2 }));
      peekState(stale)!.csrfToken = "written after the rename";
      await subject.store.set(a, stale);
      for (const id of [a, b]) {
        const got = (await readSession(subject.store, id))!;
        expect(peekState(got)?.user).toMatchObject({ name: "Grace", role: "admin", ver: 2 });
      }
      expect(peekState(await readSession(subject.store, a))?.csrfToken).toBe("written after the rename");
    });

    test("when a session is named, then listings carry the name until the session ends; another user's session cannot be named", async () => {
      subject = await factory();
      const [a, b] = [sid(), sid()];
      await subject.store.set(a, signedIn("u1"));
      await subject.store.set(b, signedIn("u2"));
      expect(await subject.store.nameUserSession("u1", handleOf(a), "Work laptop")).toBe(true);
      expect(await subject.store.nameUserSession("u1", handleOf(b), "Not mine")).toBe(false);
      expect((await subject.store.listUserSessions("u1"))[0].name).toBe("Work laptop");
      expect((await subject.store.listUserSessions("u2"))[0].name).toBeUndefined();
      await subject.store.endUserSession("u1", handleOf(a), { reason: "other-device", at: 1, device: "Firefox on Linux" });
      expect(await subject.store.takeEnding(handleOf(a))).toEqual({ reason: "other-device", at: 1, device: "Firefox on Linux" });
      expect(await subject.store.takeEnding(handleOf(a))).toBeNull();
      await subject.store.set(a, { ...signedIn("u1") } as SessionData);
      expect((await subject.store.listUserSessions("u1"))[0]?.name).toBeUndefined();
    });

    test("when a site keeps its own keys in the session, then they read back as they were, apart from the package's state", async () => {
      subject = await factory();
      const id = sid();
      const site = { passport: { user: 42 }, userId: 7, user: { plan: "pro" }, cart: [{ sku: "tea", n: 2 }], flash: { error: ["x"] }, "~x": 1 };
      const hostile = JSON.parse('{"__proto__": {"polluted": true}, "csrfToken": "the site\'s own"}');
      await subject.store.set(id, withState({ cookie: {} as SessionData["cookie"], ...site, ...hostile }, peekState(signedIn("u1"))!));
      const got = (await readSession(subject.store, id))! as unknown as Record<string, unknown>;
      expect(got).toMatchObject(site);
      // Read again after the site changed its keys in place (a request that did not save): as stored.
      (got.cart as Array<{ n: number }>)[0].n = 99;
      (got.user as { plan: string }).plan = "free";
      const again = (await readSession(subject.store, id))! as unknown as Record<string, unknown>;
      expect(again).toMatchObject(site);
      expect(peekState(again as unknown as SessionData)).not.toBe(peekState(got as unknown as SessionData));
      expect(got.csrfToken).toBe("the site's own");
      expect(Object.getOwnPropertyDescriptor(got, "__proto__")?.value).toEqual({ polluted: true });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(peekState(got as unknown as SessionData)?.userId).toBe("u1");
      // Only the site's keys and the cookie: the package's state is beside the session, not in it.
      expect(Object.keys(got).sort()).toEqual(["cookie", ...Object.keys(site), "csrfToken", "__proto__"].sort());
      expect((await subject.store.listUserSessions("u1")).map((r) => r.handle)).toEqual([handleOf(id)]);
      // The site's own `userId` and `user` are not the package's: nothing is indexed under 7.
      expect(await subject.store.listUserSessions("7")).toEqual([]);
    });

    test("when the store keeps a site's cookie, then it reads back as the site set it, and the product's lifetime caps the session", async () => {
      subject = await factory({ keepCookie: true, lifetime: { idle: 60_000, browserIdle: 60_000, absolute: 120_000 } });
      const [visitor, remembered] = [sid(), sid()];
      const inAMonth = new Date(subject.clock.now() + 30 * 24 * 3600 * 1000);
      const cookie = {
        originalMaxAge: 30 * 24 * 3600 * 1000,
        expires: inAMonth,
        httpOnly: true,
        path: "/app",
        domain: "example.com",
        sameSite: "strict",
        secure: true,
      };
      await subject.store.set(visitor, JSON.parse(JSON.stringify({ cookie, cart: ["tea"] })));
      await subject.store.set(remembered, withState(JSON.parse(JSON.stringify({ cookie, passport: { user: 1 } })), peekState(signedIn("u1"))!));
      const got = (await readSession(subject.store, remembered))!;
      expect(got.cookie).toMatchObject({
        originalMaxAge: cookie.originalMaxAge,
        expires: inAMonth.toISOString(),
        path: "/app",
        domain: "example.com",
        sameSite: "strict",
      });
      // A visitor's session lives as long as the site's cookie; a signed-in one no longer than the product allows.
      subject.clock.advance(130_000);
      expect(await readSession(subject.store, remembered)).toBeNull();
      expect((await readSession(subject.store, visitor)) as unknown as { cart: string[] }).toMatchObject({ cart: ["tea"] });
    });

    test("when a session is written, then the store answers ping and keeps working with callbacks", async () => {
      subject = await factory();
      await expect(subject.store.ping()).resolves.toBeUndefined();
      const id = sid();
      await new Promise<void>((resolve, reject) => subject.store.set(id, signedIn("u1"), (err) => (err ? reject(err) : resolve())));
      const got = await new Promise<SessionData | null | undefined>((resolve, reject) =>
        subject.store.get(id, (err, sess) => (err ? reject(err) : resolve(sess))),
      );
      expect(peekState(got)?.userId).toBe("u1");
    });
  });
}
