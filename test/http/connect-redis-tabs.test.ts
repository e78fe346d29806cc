import { RedisStore } from "connect-redis";
import express, { type Express } from "express";
import session, { type Store } from "express-session";
import type { RedisClientType } from "redis";
import request from "supertest";
import { createSessions, type MailMessage, type Sessions } from "../../src/package/index";
import { handleOf } from "../../src/package/session-store/session-record";
import { browser, CHROME_WINDOWS, csrfFrom, quietMail } from "../helpers/app";
import { accountsOf, localPassport } from "../helpers/passport";
import { pauseBefore } from "../helpers/paused-client";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";
import { redisName } from "../helpers/topology";

interface Row {
  id: number;
  name: string;
  email: string;
  password: string;
}
const rows: Row[] = [{ id: 41, name: "Ada Lovelace", email: "ada@example.com", password: "ada's password" }];
const accounts = accountsOf(rows);
const secret = "the site's own session secret, long enough";
const FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0";
const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/**
 * A Passport site as Express's own examples build one: a page that counts views for the
 * signed-in (so its answers carry the cookie) and keeps where a visitor wanted to go (so a
 * visitor's answer carries a cookie too: the one that used to replace the good one).
 */
function site(store: Store, sessions?: Sessions, maxAge: number | null = 14 * 24 * 3600 * 1000): Express {
  const passport = localPassport(rows);
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: maxAge ?? undefined } }));
  app.use(passport.initialize());
  app.use(passport.session());
  if (sessions) app.use(sessions.track());
  app.post("/login", passport.authenticate("local", { failureRedirect: "/login" }), (_req, res) => res.redirect(303, "/page"));
  app.get("/page", (req, res) => {
    if (!req.user) {
      req.session.returnTo = "/page";
      return res.status(401).json({ user: null });
    }
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ user: (req.user as Row).name });
  });
  if (sessions) {
    app.use("/account", sessions.router());
    app.use(sessions.errorHandler());
  }
  return app;
}

/** A browser's cookie jar: each request carries what it holds as the request leaves, each answer's cookies applied as they arrive. */
class Jar {
  private readonly cookies = new Map<string, string>();

  constructor(initial: Record<string, string> = {}) {
    for (const [name, value] of Object.entries(initial)) this.cookies.set(name, value);
  }

  get header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  value(name: string): string | undefined {
    return this.cookies.get(name);
  }

  apply(setCookie: string[] | string | undefined): void {
    for (const line of [setCookie ?? []].flat()) {
      const [pair, ...attributes] = line.split(";").map((p) => p.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const expires = attributes.find((a) => /^expires=/i.test(a));
      const gone = value === "" || (expires !== undefined && Date.parse(expires.slice(8)) <= Date.now()) || attributes.some((a) => /^max-age=0$/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(app: Express, path: string, userAgent = CHROME_WINDOWS) {
    const res = await request(app).get(path).set("User-Agent", userAgent).set("Cookie", this.header);
    this.apply(res.headers["set-cookie"]);
    return res;
  }
}

/** The session id a connect.sid cookie value names. */
function sidOf(cookieValue: string): string {
  return decodeURIComponent(cookieValue).slice(2).split(".")[0];
}

/** Signs in on the site as it was (connect-redis): the browser's jar then holds its cookie. */
async function signedInBefore(before: Express, userAgent = CHROME_WINDOWS): Promise<Jar> {
  const jar = new Jar();
  const res = await request(before).post("/login").set("User-Agent", userAgent).type("form").send({ email: rows[0].email, password: rows[0].password });
  expect(res.status).toBe(303);
  jar.apply(res.headers["set-cookie"]);
  return jar;
}

/** "Sign out all other sessions" from the sessions page the jar's browser was just shown. */
async function signOutOthers(app: Express, jar: Jar, page: { text: string }): Promise<void> {
  const ended = await request(app)
    .post("/account/sessions/revoke-others")
    .set("User-Agent", CHROME_WINDOWS)
    .set("Cookie", jar.header)
    .type("form")
    .send({ _csrf: csrfFrom(page.text), password: rows[0].password });
  expect(ended.status).toBe(303);
  jar.apply(ended.headers["set-cookie"]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`a site moving from connect-redis, as browsers come back (${redisName()})`, () => {
  let client: RedisClientType;
  beforeAll(async () => {
    client = await connectTestRedis();
  });
  afterAll(async () => client.close());

  const switched = (prefix: string, more: Partial<Parameters<typeof createSessions>[0]> = {}) =>
    createSessions({
      accounts,
      secret,
      redis: client,
      keyPrefix: `${prefix}new:`,
      userIdOf: (req) => (req.user as Row | undefined)?.id,
      legacy: { prefix: `${prefix}sess:` },
      events: quietMail,
      ...more,
    });

  /**
   * Two instances of the switched site on one Redis, the site before them on connect-redis:
   * the slow one's first request is held just before it makes the record it read the
   * package's, while the test works on the other.
   */
  const twoInstances = async (more: { legacy?: Partial<NonNullable<Parameters<typeof createSessions>[0]["legacy"]>>; afterHold?: boolean } = {}) => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const slowClient = await connectTestRedis();
    // Held right after it read connect-redis's key: before it takes the hold on making it the
    // package's (or, `afterHold`, once it has it), or before any write of a session.
    const held = pauseBefore(
      slowClient,
      (command, args) =>
        (!more.afterHold && command === "set" && String(args[0]).startsWith(`${prefix}new:sess:a:`)) || command === "evalSha" || command === "eval",
    );
    const legacy = { prefix: `${prefix}sess:`, ...more.legacy };
    const [fast, slow] = [switched(prefix, { legacy }), switched(prefix, { legacy, redis: held.client })];
    const close = async () => {
      await Promise.all([fast.close(), slow.close()]);
      await slowClient.close();
    };
    return { prefix, before, held, fast, slow, close };
  };

  test("when a browser's first page after the switch sends 2, 3 or 5 requests a few milliseconds apart, then in 20 rounds each it is never signed out and its session is indexed once", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const sessions = switched(prefix);
    try {
      const after = site(sessions.store, sessions);
      const signedOut: string[] = [];
      for (const burst of [2, 3, 5]) {
        for (let round = 0; round < 20; round++) {
          const jar = await signedInBefore(before);
          // Each request leaves 5 ms after the one before, with what the jar holds then.
          const answers = await Promise.all(Array.from({ length: burst }, (_, i) => sleep(5 * i).then(() => jar.get(after, "/page"))));
          const last = await jar.get(after, "/page");
          const listed = await sessions.getUserSessions("41");
          if (answers.some((a) => a.body.user !== "Ada Lovelace") || last.body.user !== "Ada Lovelace" || listed.length !== 1) {
            signedOut.push(`${burst} requests, round ${round}: ${answers.map((a) => a.body.user).join(", ")}, then ${last.body.user}; ${listed.length} listed`);
          }
          await sessions.store.endUserSessions("41");
        }
      }
      expect(signedOut).toEqual([]);
    } finally {
      await sessions.close();
    }
  });

  test("when a request read connect-redis's record just before another instance moved it, then it is served on the new id and the old id is not brought back", async () => {
    const { prefix, before, held, fast, slow, close } = await twoInstances();
    try {
      const jar = await signedInBefore(before);
      const old = jar.value("connect.sid")!;
      const late = new Jar({ "connect.sid": old });
      const lateAnswer = late.get(site(slow.store, slow), "/page");
      await held.reached;
      expect((await jar.get(site(fast.store, fast), "/page")).body.user).toBe("Ada Lovelace");
      const moved = jar.value("connect.sid")!;
      held.release();
      expect((await lateAnswer).body.user).toBe("Ada Lovelace");
      expect(late.value("connect.sid")).toBe(moved);
      // The old id stays retired: no record under it, its tombstone still leading to the new id.
      expect(await client.exists(`${prefix}new:sess:${handleOf(sidOf(old))}`)).toBe(0);
      expect(await client.exists(`${prefix}new:sess:x:${handleOf(sidOf(old))}`)).toBe(1);
      const copy = new Jar({ "connect.sid": old });
      expect((await copy.get(site(fast.store, fast), "/page", IPHONE)).status).toBe(303);
      expect(await fast.getUserSessions("41")).toHaveLength(1);
    } finally {
      await close();
    }
  });

  test("when a request read connect-redis's record just before another instance made it the package's and the site ended it, then the request is not served signed in and the id stays ended", async () => {
    const { prefix, before, held, fast, slow, close } = await twoInstances();
    try {
      const jar = await signedInBefore(before);
      const sid = sidOf(jar.value("connect.sid")!);
      const late = jar.get(site(slow.store, slow), "/page");
      await held.reached;
      // The other instance reads it (so makes it the package's), then the site signs it out.
      const call = (f: (cb: (err: unknown, value?: unknown) => void) => void) =>
        new Promise((resolve, reject) => f((err, value) => (err ? reject(err) : resolve(value))));
      expect(await call((cb) => fast.store.get(sid, cb))).toMatchObject({ passport: { user: 41 } });
      await call((cb) => fast.store.destroy(sid, cb));
      held.release();
      expect((await late).body.user).toBeNull();
      expect(await client.exists(`${prefix}new:sess:${handleOf(sid)}`)).toBe(0);
      expect(await call((cb) => fast.store.get(sid, cb))).toBeNull();
    } finally {
      await close();
    }
  });

  test("when an instance stops while it makes a session the package's, then the browser's next request waits at most the hold and is served signed in", async () => {
    const { before, held, fast, slow, close } = await twoInstances({ afterHold: true });
    try {
      const jar = await signedInBefore(before);
      // The slow instance takes the hold and never gets further (a deploy stopped it).
      void new Jar({ "connect.sid": jar.value("connect.sid")! }).get(site(slow.store, slow), "/page");
      await held.reached;
      const old = jar.value("connect.sid");
      const answer = await jar.get(site(fast.store, fast), "/page");
      expect(answer.body.user).toBe("Ada Lovelace");
      expect(sidOf(jar.value("connect.sid")!)).not.toBe(sidOf(old!));
    } finally {
      held.release();
      await close();
    }
  });

  test("when a site instance not yet switched saves a session after it moved on or was ended, then the switched site never makes that id the package's again", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const [laptop, phone, tab] = [await signedInBefore(before), await signedInBefore(before, IPHONE), await signedInBefore(before)];
    const connectRedisClient = await connectTestRedis();
    // The instance still on connect-redis: each request read the key, and saves it (views + 1) once released.
    const saving = (cookie: string) =>
      pauseBefore(connectRedisClient, (command, args) => command === "set" && String(args[0]) === `${prefix}sess:${sidOf(cookie)}`);
    const sessions = switched(prefix, {
      legacy: { prefix: `${prefix}sess:`, userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user, migrate: false },
    });
    try {
      const after = site(sessions.store, sessions);
      const phoneSave = saving(phone.value("connect.sid")!);
      const phoneInFlight = new Jar({ "connect.sid": phone.value("connect.sid")! }).get(
        site(new RedisStore({ client: phoneSave.client, prefix: `${prefix}sess:` })),
        "/page",
        IPHONE,
      );
      const tabSave = saving(tab.value("connect.sid")!);
      const old = tab.value("connect.sid")!;
      const tabInFlight = new Jar({ "connect.sid": old }).get(site(new RedisStore({ client: tabSave.client, prefix: `${prefix}sess:` })), "/page");
      await Promise.all([phoneSave.reached, tabSave.reached]);
      expect(await sessions.migrateLegacySessions()).toMatchObject({ moved: 3, indexed: 3 });
      // The tab's session moves to its new id; the phone's is signed out from the laptop.
      expect((await tab.get(after, "/page")).body.user).toBe("Ada Lovelace");
      await signOutOthers(after, laptop, await laptop.get(after, "/account/sessions"));
      phoneSave.release();
      tabSave.release();
      await Promise.all([phoneInFlight, tabInFlight]);
      // Both keys written back by the old instance: neither id comes back, for anyone.
      const api = site(sessions.store);
      for (const cookie of [phone.value("connect.sid")!, old]) {
        expect((await new Jar({ "connect.sid": cookie }).get(after, "/page", FIREFOX_LINUX)).body.user).toBeNull();
        expect((await new Jar({ "connect.sid": cookie }).get(api, "/page", FIREFOX_LINUX)).body.user).toBeNull();
        expect(await client.exists(`${prefix}new:sess:${handleOf(sidOf(cookie))}`)).toBe(0);
      }
      expect((await new Jar({ "connect.sid": phone.value("connect.sid")! }).get(after, "/page", IPHONE)).body.user).toBeNull();
      expect((await sessions.getUserSessions("41")).map((s) => s.userAgent)).toEqual([CHROME_WINDOWS]);
      // Nor when it saves them again once the moved id's grace and its move's claim are over
      // (their keys gone), nor when the migration walks the keys again, for as long as
      // connect-redis would have kept them.
      const saved = JSON.stringify({
        cookie: { originalMaxAge: 14 * 86_400_000, expires: new Date(Date.now() + 86_400_000), path: "/" },
        passport: { user: 41 },
      });
      for (const cookie of [phone.value("connect.sid")!, old]) {
        await client.del(`${prefix}new:sess:x:${handleOf(sidOf(cookie))}`);
        for (const claim of (await client.keys(`${prefix}new:*claim*`)).filter((k) => k.includes(handleOf(sidOf(cookie))))) await client.del(claim);
        await client.set(`${prefix}sess:${sidOf(cookie)}`, saved, { EX: 86_400 });
      }
      await client.del((await client.keys(`${prefix}new:*legacy:cursor*`)) as string[]);
      expect(await sessions.migrateLegacySessions()).toMatchObject({ moved: 0 });
      for (const cookie of [phone.value("connect.sid")!, old]) {
        expect((await new Jar({ "connect.sid": cookie }).get(after, "/page", FIREFOX_LINUX)).body.user).toBeNull();
      }
      expect((await sessions.getUserSessions("41")).map((s) => s.userAgent)).toEqual([CHROME_WINDOWS]);
    } finally {
      await sessions.close();
      await connectRedisClient.close();
    }
  });

  test("when a request read connect-redis's record before the migration made it the package's and the owner then signed it out from another device, then neither that request nor a copy of its cookie is served signed in, ever", async () => {
    const { prefix, before, held, fast, slow, close } = await twoInstances({
      legacy: { userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user, migrate: false },
    });
    try {
      const laptop = await signedInBefore(before);
      const phone = await signedInBefore(before, IPHONE);
      const lost = phone.value("connect.sid")!;
      const fastSite = site(fast.store, fast);
      const late = new Jar({ "connect.sid": lost }).get(site(slow.store, slow), "/page", IPHONE);
      await held.reached;
      expect(await fast.migrateLegacySessions()).toMatchObject({ moved: 2, indexed: 2 });
      await signOutOthers(fastSite, laptop, await laptop.get(fastSite, "/account/sessions"));
      held.release();
      // A copy of the phone's cookie, while the late request goes on and after it.
      const copy = new Jar({ "connect.sid": lost });
      const during = copy.get(fastSite, "/page", FIREFOX_LINUX);
      expect((await late).body.user).toBeNull();
      expect((await during).body.user).toBeNull();
      expect((await new Jar({ "connect.sid": lost }).get(fastSite, "/page", FIREFOX_LINUX)).body.user).toBeNull();
      expect(await client.exists(`${prefix}new:sess:${handleOf(sidOf(lost))}`)).toBe(0);
      expect((await fast.getUserSessions("41")).map((s) => s.userAgent)).toEqual([CHROME_WINDOWS]);
      expect((await laptop.get(fastSite, "/page")).body.user).toBe("Ada Lovelace");
    } finally {
      await close();
    }
  });

  test("when the old cookie comes back within the grace, then its browser takes the new id; another browser with a copy is signed out (and served nothing by an app on the store without track()), and after the grace the old id leads nowhere", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const sessions = switched(prefix);
    try {
      const after = site(sessions.store, sessions);
      const jar = await signedInBefore(before);
      const old = jar.value("connect.sid")!;
      expect((await jar.get(after, "/page")).body.user).toBe("Ada Lovelace");
      const moved = jar.value("connect.sid")!;
      expect(sidOf(moved)).not.toBe(sidOf(old));

      // A copy of the old cookie at an app on the same store that does not run track() (an
      // API, a websocket handshake): nothing of the session, and nothing kept under the old id.
      const api = site(sessions.store);
      expect((await new Jar({ "connect.sid": old }).get(api, "/page", FIREFOX_LINUX)).body.user).toBeNull();
      expect(await client.exists(`${prefix}new:sess:${handleOf(sidOf(old))}`)).toBe(0);
      expect((await new Jar({ "connect.sid": old }).get(api, "/page")).body.user).toBe("Ada Lovelace");

      // A late request of the same browser, with the old cookie: served, and given the new id.
      const late = new Jar({ "connect.sid": old });
      expect((await late.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect(late.value("connect.sid")).toBe(moved);

      // A copy of the old cookie in another browser gets nothing, and loses the copy (for a visitor's cookie).
      const copy = new Jar({ "connect.sid": old });
      const refused = await copy.get(after, "/page", IPHONE);
      expect(refused.status).toBe(303);
      expect(copy.value("connect.sid")).not.toBe(old);
      expect((await copy.get(after, "/page", IPHONE)).body.user).toBeNull();

      // The grace over (its marker gone), the old id is a visitor's.
      const marker = `${prefix}new:sess:x:${handleOf(sidOf(old))}`;
      expect(await client.exists(marker)).toBe(1);
      await client.del(marker);
      expect((await new Jar({ "connect.sid": old }).get(after, "/page")).body.user).toBeNull();
      expect((await jar.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect(await sessions.getUserSessions("41")).toHaveLength(1);
    } finally {
      await sessions.close();
    }
  });

  test("when a copy of the old cookie is served an empty session, then nothing is written under the old id, even for a route that only reads", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const jar = await signedInBefore(before);
    const old = jar.value("connect.sid")!;
    const own = await connectTestRedis();
    let watching = false;
    const write = pauseBefore(own, (command, args) => watching && String(args[0]) === `${prefix}new:sess:${handleOf(sidOf(old))}` && command !== "get");
    let wrote = false;
    void write.reached.then(() => {
      wrote = true;
    });
    const sessions = switched(prefix, { redis: write.client });
    try {
      expect((await jar.get(site(sessions.store, sessions), "/page")).body.user).toBe("Ada Lovelace");
      watching = true;
      const api = site(sessions.store);
      api.get("/read-only", (req, res) => res.json({ user: req.user ?? null }));
      expect((await new Jar({ "connect.sid": old }).get(api, "/page", FIREFOX_LINUX)).body.user).toBeNull();
      expect((await new Jar({ "connect.sid": old }).get(api, "/read-only", FIREFOX_LINUX)).body.user).toBeNull();
      await sleep(50);
      expect(wrote).toBe(false);
      // The browser the session moved for still finds its way on that instance.
      expect((await new Jar({ "connect.sid": old }).get(api, "/page")).body.user).toBe("Ada Lovelace");
    } finally {
      write.release();
      await sessions.close();
      await own.close();
    }
  });

  test("when connect-redis's sessions are indexed by the migration, then before their browsers come back they are listed as not seen since the switch and ended by 'sign out all others'", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const [laptop, phone] = [await signedInBefore(before), await signedInBefore(before, IPHONE)];
    const visitor = new Jar();
    await visitor.get(before, "/page");
    await client.set(`${prefix}sess:not-a-session`, "{ not json");
    const sessions = switched(prefix, {
      legacy: { prefix: `${prefix}sess:`, userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user, migrate: false },
    });
    try {
      await sessions.ready();
      const done = await sessions.migrateLegacySessions();
      expect(done).toMatchObject({ moved: 3, indexed: 2, done: true });
      const listed = await sessions.getUserSessions("41");
      expect(listed.map((s) => s.moved?.seen)).toEqual([false, false]);
      // Nothing but the key that was no session is left under connect-redis's prefix.
      expect(await client.exists(`${prefix}sess:${sidOf(laptop.value("connect.sid")!)}`)).toBe(0);
      expect(await client.get(`${prefix}sess:not-a-session`)).toBe("{ not json");
      // A second run finds the walk done.
      expect(await sessions.migrateLegacySessions()).toMatchObject({ moved: 0, done: true });

      const after = site(sessions.store, sessions);
      const page = await laptop.get(after, "/account/sessions");
      expect(page.status).toBe(200);
      expect(page.text).toContain("before the switch on");
      expect(page.text).toContain("A browser not seen since the switch");
      expect(page.text).toMatch(/Signed in<\/dt><dd><time[^>]*>before /);
      await signOutOthers(after, laptop, page);
      expect((await phone.get(after, "/page", IPHONE)).body.user).toBeNull();
      expect((await laptop.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect(await sessions.getUserSessions("41")).toHaveLength(1);
    } finally {
      await client.del(`${prefix}sess:not-a-session`);
      await sessions.close();
    }
  });

  test("when an account is at SESSION_MAX_PER_USER with sessions connect-redis kept, then its browsers coming back move without signing each other out", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const [laptop, phone] = [await signedInBefore(before), await signedInBefore(before, IPHONE)];
    const sessions = switched(prefix, {
      env: { SESSION_MAX_PER_USER: "2" },
      legacy: { prefix: `${prefix}sess:`, userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user, migrate: false },
    });
    try {
      const after = site(sessions.store, sessions);
      expect((await laptop.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect((await phone.get(after, "/page", IPHONE)).body.user).toBe("Ada Lovelace");
      expect((await laptop.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect(await sessions.getUserSessions("41")).toHaveLength(2);
    } finally {
      await sessions.close();
    }
  });

  test("when `legacy.userIdOf` is given, then the migration runs by itself at start", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    await signedInBefore(before);
    let migrated!: (progress: unknown) => void;
    const finished = new Promise((resolve) => {
      migrated = resolve;
    });
    const sessions = switched(prefix, {
      legacy: { prefix: `${prefix}sess:`, userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user },
      events: { ...quietMail, legacyMigrated: (progress) => migrated(progress) },
    });
    try {
      expect(await finished).toMatchObject({ moved: 1, indexed: 1, done: true });
      expect(await sessions.getUserSessions("41")).toHaveLength(1);
    } finally {
      await sessions.close();
    }
  });

  test("when a session moves from connect-redis, then no sign-in alert is sent and its browser is a known device; a real sign-in from a new device still is", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }));
    const sent: MailMessage[] = [];
    const sessions = switched(prefix, { mail: { send: async (m) => void sent.push(m) } });
    try {
      const after = site(sessions.store, sessions);
      const jar = await signedInBefore(before);
      expect((await jar.get(after, "/page")).body.user).toBe("Ada Lovelace");
      expect(jar.value("device")).toBeDefined();
      // A sign-in that is one: on a phone that never signed in.
      const phone = browser(after, IPHONE);
      await phone.post("/login").type("form").send({ email: rows[0].email, password: rows[0].password });
      while (sent.length === 0) await sleep(10);
      await sleep(50);
      expect(sent).toHaveLength(1);
      expect(sent[0].text).toMatch(/iOS/);
    } finally {
      await sessions.close();
    }
  });

  test("when a visitor's session without a cookie maxAge moves, then Redis keeps it as long as a browser-session's idle timeout, not 30 days", async () => {
    const prefix = uniquePrefix();
    const before = site(new RedisStore({ client, prefix: `${prefix}sess:` }), undefined, null);
    const sessions = switched(prefix);
    try {
      const after = site(sessions.store, sessions, null);
      const jar = new Jar();
      await jar.get(before, "/page");
      expect((await jar.get(after, "/page")).body.user).toBeNull();
      const ttl = await client.pTTL(`${prefix}new:sess:${handleOf(sidOf(jar.value("connect.sid")!))}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(12 * 3600 * 1000);
    } finally {
      await sessions.close();
    }
  });

  test("when `legacy.userIdOf` is not a function, then createSessions says what it takes", () => {
    expect(() => switched(uniquePrefix(), { legacy: { userIdOf: "passport.user" as never } })).toThrow(/legacy.userIdOf/);
  });

  test("when a site's production runs over plain http, then one warning says what that costs", async () => {
    const warnings: string[] = [];
    const sessions = switched(uniquePrefix(), {
      secret: "a production secret of 32 characters or more",
      env: { NODE_ENV: "production" },
      events: { ...quietMail, warning: (m) => warnings.push(m) },
    });
    try {
      const app = site(sessions.store, sessions);
      // From localhost nothing is lost (browsers take Secure cookies there): not said, twice.
      await request(app).get("/page");
      await request(app).get("/page");
      expect(warnings.filter((w) => w.includes("https"))).toEqual([]);
      await request(app).get("/page").set("Host", "shop.example");
      await request(app).get("/page").set("Host", "shop.example");
      const said = warnings.filter((w) => w.includes("https"));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/__Host-/);
    } finally {
      await sessions.close();
    }
  });
});

declare module "express-session" {
  interface SessionData {
    views?: number;
    returnTo?: string;
  }
}
