import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import request from "supertest";
import { openBackend } from "../../src/site/backend";
import { PasswordHasher } from "../../src/site/users/password";
import {
  appOn,
  appWith,
  type BackendKind,
  browser,
  createTestApp,
  finishSignUp,
  newAccount,
  quietMail,
  SAFARI_IPHONE,
  signedUpCookie,
  signIn,
  signUp,
  submit,
  testConfig,
  useTestApp,
} from "../helpers/app";
import { startRedisServer } from "../helpers/redis-server";
import { sleep, testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

describe.each<BackendKind>(backendKinds())("expiry (%s)", (kind) => {
  test("when a session idles past SESSION_IDLE_TIMEOUT, then the next page asks to sign in again and the index forgets it", async () => {
    const clock = testClock();
    // Long enough in real time that Redis keeps the record on a loaded machine; the test's clock moves past it.
    const t = await createTestApp(kind, { env: { SESSION_IDLE_TIMEOUT: "30", SESSION_ABSOLUTE_TIMEOUT: "600" }, clock });
    try {
      const agent = browser(t.app);
      const account = await signUp(agent);
      const user = (await t.deps.users.findByEmail(account.email))!;
      expect(await t.deps.sessions.listUserSessions(user.id)).toHaveLength(1);
      clock.advance(30_200);
      const res = await agent.get("/settings/sessions");
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/login?next=%2Fsettings%2Fsessions");
      expect((await agent.get(res.headers.location)).text).toContain("You were signed out after 30 seconds without activity: please sign in again.");
      expect(await t.deps.sessions.listUserSessions(user.id)).toEqual([]);
      if (t.redis) expect(await t.redis.exists(`${t.prefix}sess:user:{${user.id}}`)).toBe(0);
      // The expiry is noticed in the account's activity (written in the background).
      const deadline = Date.now() + 2000;
      const expired = async () => (await t.deps.activity.list(user.id, { limit: 10 })).entries.some((e) => e.type === "session_expired");
      while (!(await expired()) && Date.now() < deadline) await sleep(20);
      expect(await expired()).toBe(true);
    } finally {
      await t.close();
    }
  });

  test("when a session stays active past SESSION_ABSOLUTE_TIMEOUT, then it ends all the same", async () => {
    const clock = testClock();
    const t = await createTestApp(kind, { env: { SESSION_IDLE_TIMEOUT: "3", SESSION_ABSOLUTE_TIMEOUT: "5", SESSION_UPDATE_AGE: "1" }, clock });
    try {
      const agent = browser(t.app);
      await signUp(agent);
      // Activity every 1.1 s slides the idle timeout (3 s) to about 6.3 s after sign-in...
      for (let i = 0; i < 3; i++) {
        clock.advance(1100);
        expect((await agent.get("/dashboard")).status).toBe(200);
      }
      // ...but at about 5.5 s the absolute lifetime (5 s) has ended the session, and it says so.
      clock.advance(2200);
      const res = await agent.get("/dashboard");
      expect(res.status).toBe(303);
      expect((await agent.get(res.headers.location)).text).toContain("Sessions last at most 5 seconds after signing in, however active: please sign in again.");
    } finally {
      await t.close();
    }
  });
});

describe.each<BackendKind>(backendKinds())("credential version (%s)", (kind) => {
  const clock = testClock();
  const ctx = useTestApp(kind, { env: { SESSION_UPDATE_AGE: "1" }, clock });

  test("when the password changed but ending a session failed, then that session is refused on its next request", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    // A password change whose session revocation never ran: only the account moved on.
    await ctx().deps.users.update(user.id, { passwordHash: await ctx().deps.passwords.hash("another password"), newCredentials: true });
    clock.advance(1100);
    const res = await phone.get("/dashboard");
    expect(res.status).toBe(303);
    expect((await phone.get("/login")).text).toContain("Your session has ended. Please sign in again.");
  });

  test("when the new credential version reaches the sessions, then they are refused at once", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    await ctx().deps.users.update(user.id, { newCredentials: true });
    await ctx().deps.kit.accountChanged(user.id);
    expect((await phone.get("/dashboard")).status).toBe(303);
    expect((await laptop.get("/dashboard")).status).toBe(303);
  });
});

describe("sign-in timing", () => {
  test("when the email is unknown, then a password hash is still computed, as for a known one", async () => {
    class CountingHasher extends PasswordHasher {
      verifications = 0;
      override async verify(password: string, stored: string): Promise<boolean> {
        this.verifications++;
        return super.verify(password, stored);
      }
    }
    const hasher = new CountingHasher({ logN: 10, r: 8, p: 1 });
    const base = await createTestApp("embedded");
    const app = appWith({ ...base.deps, passwords: hasher });
    try {
      const account = await signUp(browser(app));
      hasher.verifications = 0;
      await signIn(browser(app), { ...account, password: "wrong password" });
      await signIn(browser(app), { email: `unknown-${account.email}`, password: "wrong password" });
      expect(hasher.verifications).toBe(2);
    } finally {
      await base.close();
    }
  });
});

describe("headers", () => {
  const ctx = useTestApp("embedded");

  test("when any page is served, then it forbids framing and scripts, sends no referrer and may not be cached", async () => {
    const agent = browser(ctx().app);
    await signUp(agent);
    for (const path of ["/", "/login", "/dashboard", "/settings/sessions"]) {
      const res = await agent.get(path);
      expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(res.headers["content-security-policy"]).toContain("script-src 'none'");
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["content-security-policy"]).toContain("object-src 'none'");
      expect(res.headers["content-security-policy"]).toContain("base-uri 'none'");
      // no-cache as well: lynx shows a no-store page from its history (after sign-out too) and asks again only under no-cache.
      expect(res.headers["cache-control"]).toBe("no-store, no-cache");
      expect(res.headers.pragma).toBe("no-cache");
      expect(res.headers.expires).toBe("0");
    }
    // The package's stylesheet may be kept: it is the same for everyone.
    const css = await agent.get("/settings/sessions.css");
    expect(css.headers["cache-control"]).toBe("public, max-age=3600");
    expect(css.headers.pragma).toBeUndefined();
    expect(css.headers.expires).toBeUndefined();
    expect((await request(ctx().app).get("/style.css")).headers["cache-control"]).toMatch(/max-age=3600/);
  });
});

/** Until the app's /readyz says its Redis answers again. */
async function untilReady(app: Parameters<typeof request>[0]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await request(app).get("/readyz")).status !== 200) {
    if (Date.now() > deadline) throw new Error("the client did not reconnect");
    await sleep(50);
  }
}

describe("Redis outages", () => {
  test("when reading a session fails once (a failover), then that request answers 503 and the session is not ended", async () => {
    const t = await createTestApp("redis");
    try {
      const cookie = await signedUpCookie(browser(t.app), newAccount("Failover Fay"));
      // The same Redis store, whose next read fails the way a read during a failover does.
      const store = t.deps.sessions;
      const read = store.get.bind(store);
      let failures = 1;
      store.get = (sid, cb) => {
        if (failures-- > 0) return cb(new Error("CLUSTERDOWN The cluster is down"));
        return read(sid, cb);
      };
      const app = t.app;
      const down = await request(app).get("/dashboard").set("Cookie", cookie);
      expect(down.status).toBe(503);
      expect(down.headers["set-cookie"]).toBeUndefined();
      const back = await request(app).get("/dashboard").set("Cookie", cookie);
      expect(back.status).toBe(200);
      expect(back.text).toContain("Failover Fay");
    } finally {
      await t.close();
    }
  });

  test("when Redis is away as the app starts and comes back, then sign-in attempts are counted again", async () => {
    let server = await startRedisServer();
    const config = testConfig({ REDIS_URL: server.url, SIGNIN_LIMIT_PER_ACCOUNT: "2" });
    const backend = await openBackend(config, { events: quietMail });
    try {
      // The sign-in limiters load their scripts as the app is built: here, while Redis is away.
      await server.stop();
      const app = appOn(config, backend);
      server = await startRedisServer({ port: server.port });
      await untilReady(app);
      // Each limiter whose scripts failed to load may refuse one request (503) while it loads
      // them again; after that, sign-up works and wrong passwords are counted until blocked.
      const account = newAccount("Late Lars");
      const signups = [];
      for (let i = 0; i < 3 && signups.at(-1) !== 303; i++) signups.push((await submit(browser(app), "/signup", "/signup", account)).status);
      expect(signups.at(-1)).toBe(303);
      // The mail's link finishes the account.
      const user = (await backend.users.findByEmail(account.email))!;
      expect(
        (await finishSignUp(browser(app), `/signup/confirm?t=${backend.kit.links.make("sign-up", user.id, { version: user.cv })}`, account.password)).status,
      ).toBe(303);
      const attempts = [];
      for (let i = 0; i < 6; i++) attempts.push((await signIn(browser(app), { ...account, password: "wrong password" })).status);
      const firstAnswer = attempts.findIndex((s) => s !== 503);
      expect(firstAnswer).toBeLessThanOrEqual(2);
      expect(attempts.slice(firstAnswer)).not.toContain(503);
      expect(attempts.at(-1)).toBe(429);
    } finally {
      await backend.close();
      await server.stop();
    }
  });

  test("when Redis goes away and comes back, then pages answer 503 meanwhile and the same cookie works again after", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "redis-outage-"));
    let server = await startRedisServer({ dataDir });
    // A session read is tried again for 0.3 s, not the default 3 s, before the page answers 503.
    const config = testConfig({ REDIS_URL: server.url, REDIS_READ_RETRY_MS: "300" });
    const backend = await openBackend(config, { events: quietMail });
    const app = appOn(config, backend);
    try {
      const cookie = await signedUpCookie(browser(app), newAccount("Outage Olga"));
      expect((await request(app).get("/dashboard").set("Cookie", cookie)).status).toBe(200);

      await server.stop();
      const down = await request(app).get("/dashboard").set("Cookie", cookie);
      expect(down.status).toBe(503);
      expect(down.headers["retry-after"]).toBe("5");
      expect(down.headers["set-cookie"]).toBeUndefined();
      expect(down.text).toContain("Nothing was lost");
      expect((await request(app).get("/readyz")).status).toBe(503);

      server = await startRedisServer({ dataDir, port: server.port });
      await untilReady(app);
      const back = await request(app).get("/dashboard").set("Cookie", cookie);
      expect(back.status).toBe(200);
      expect(back.text).toContain("Outage Olga");
    } finally {
      await backend.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
