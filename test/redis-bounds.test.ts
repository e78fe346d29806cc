import express, { type Express } from "express";
import session from "express-session";
import { createClient, type RedisClientType } from "redis";
import request from "supertest";
import { type AccountSource, createSessions, type Sessions } from "../src/package/index";
import { browser, quietMail } from "./helpers/app";
import { freePort, type RedisServer, startRedisServer } from "./helpers/redis-server";
import { stallingProxy } from "./helpers/stalling-proxy";
import { sleep, uniquePrefix } from "./helpers/stores";

declare module "express-session" {
  interface SessionData {
    userId?: number;
  }
}

/**
 * How long Redis may hold a request: at the start (createSessions returns before Redis
 * answers) and when the link stalls (no answer, no error). Every wait is bounded by
 * REDIS_TIMEOUT; a site's own pages that need no session are never held.
 */
const accounts: AccountSource = {
  findById: async (id) => (id === "1" ? { id: "1", name: "Ada Lovelace" } : null),
  verifyPassword: async (id, password) => id === "1" && password === "right",
};
const secret = "the bounded site's session secret, long enough";
const BOUND_MS = 1000;
/** What a bounded wait may take beyond the bound: timers, the event loop, the HTTP round trip on a shared machine. */
const SLACK_MS = 500;

function site(sessions: Sessions): Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
  app.use(sessions.track());
  app.post("/login", (req, res, next) =>
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = 1;
      res.redirect(303, "/");
    }),
  );
  app.get("/", (req, res) => res.json({ userId: req.session.userId ?? null }));
  app.get("/about", (_req, res) => res.send("the site's own page"));
  app.use("/account", sessions.router());
  app.use(sessions.errorHandler());
  return app;
}

/** A request's answer and how long it took. */
async function timed(go: () => PromiseLike<request.Response>) {
  const started = Date.now();
  const res = await go();
  return { status: res.status, retryAfter: res.headers["retry-after"], ms: Date.now() - started };
}

describe("createSessions returns before Redis answers", () => {
  let server: RedisServer | undefined;
  let sessions: Sessions | undefined;
  afterEach(async () => {
    await sessions?.close();
    await server?.stop();
    sessions = server = undefined;
  });

  test("when `redis` is a URL whose server starts later, then pages that need it answer 503 within the bound, the site's own pages at once, and all works once it is up", async () => {
    const port = await freePort();
    sessions = createSessions({
      accounts,
      secret,
      redis: `redis://127.0.0.1:${port}`,
      env: { REDIS_TIMEOUT: String(BOUND_MS / 1000) },
      events: quietMail,
      userIdOf: (req) => req.session?.userId,
    });
    // It returned the sessions themselves, not a promise of them: nothing waited for Redis.
    expect(sessions).not.toBeInstanceOf(Promise);
    expect(typeof sessions.track).toBe("function");
    let ready = false;
    void sessions.ready().then(() => (ready = true));
    const app = site(sessions);

    const own = await timed(() => request(app).get("/about"));
    expect(own.status).toBe(200);
    expect(own.ms).toBeLessThan(SLACK_MS);
    const page = await timed(() => request(app).get("/account/sessions"));
    expect(page.status).toBe(503);
    expect(page.retryAfter).toBeDefined();
    expect(page.ms).toBeGreaterThanOrEqual(BOUND_MS - 50);
    expect(page.ms).toBeLessThan(BOUND_MS + SLACK_MS);
    expect(ready).toBe(false);

    server = await startRedisServer({ port });
    await sessions.ready();
    const laptop = browser(app);
    expect((await laptop.post("/login")).status).toBe(303);
    expect((await laptop.get("/")).body.userId).toBe(1);
    expect((await laptop.get("/account/sessions")).status).toBe(200);
    expect(await sessions.getUserSessions("1")).toHaveLength(1);
  });

  test("when `redis` is a client of the site's that is still connecting, then it is taken as it is and used once connected", async () => {
    server = await startRedisServer();
    const client = createClient({ url: server.url, disableOfflineQueue: true }) as RedisClientType;
    const connecting = client.connect();
    try {
      sessions = createSessions({
        accounts,
        secret,
        redis: client,
        keyPrefix: uniquePrefix(),
        env: {},
        events: quietMail,
        userIdOf: (req) => req.session?.userId,
      });
      const laptop = browser(site(sessions));
      expect((await laptop.post("/login")).status).toBe(303);
      expect((await laptop.get("/account/sessions")).status).toBe(200);
      await sessions.ready();
    } finally {
      await connecting;
      await sessions?.close();
      sessions = undefined;
      await client.close();
    }
  });
});

describe("a stalled Redis holds no request longer than REDIS_TIMEOUT", () => {
  test("when the link stalls under requests already waiting and new ones, then each answers 503 with Retry-After within the bound, the site's own page at once, and pages come back when Redis answers", async () => {
    const target = new URL(process.env.TEST_REDIS_URL!);
    const proxy = await stallingProxy(target.hostname, Number(target.port));
    let stalls = 0;
    const sessions = createSessions({
      accounts,
      secret,
      redis: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix: uniquePrefix(),
      // Without the session cache: every page asks Redis.
      env: { REDIS_TIMEOUT: String(BOUND_MS / 1000), SESSION_CACHE_ENTRIES: "0" },
      events: { ...quietMail, redisStalled: () => stalls++ },
      userIdOf: (req) => req.session?.userId,
    });
    try {
      await sessions.ready();
      const app = site(sessions);
      const laptop = browser(app);
      expect((await laptop.post("/login")).status).toBe(303);
      expect((await laptop.get("/account/sessions")).status).toBe(200);

      proxy.stall();
      // Requests that are waiting on Redis when the stall is not yet known...
      const waiting = [laptop.get("/"), laptop.get("/account/sessions"), laptop.get("/account/activity")].map((r) => timed(() => r));
      await sleep(BOUND_MS / 2);
      // ...and requests that come while they wait, and after.
      const during = [timed(() => laptop.get("/")), timed(() => request(app).get("/about"))];
      const answers = await Promise.all([...waiting, ...during]);
      await sleep(BOUND_MS / 4);
      const later = await Promise.all([timed(() => laptop.get("/")), timed(() => laptop.get("/account/sessions"))]);
      const all = [...answers, ...later];
      const longest = Math.max(...all.map((a) => a.ms));
      process.stdout.write(`stalled Redis, REDIS_TIMEOUT=${BOUND_MS} ms: answers after ${all.map((a) => a.ms).join(", ")} ms; longest ${longest} ms\n`);

      const [home, pages, activity, again, about] = answers;
      for (const answer of [home, pages, activity, again, ...later]) {
        expect(answer.status).toBe(503);
        expect(answer.retryAfter).toBeDefined();
      }
      expect(about.status).toBe(200);
      expect(about.ms).toBeLessThan(SLACK_MS);
      expect(longest).toBeLessThan(BOUND_MS + SLACK_MS);
      // Once the first wait ran out, the stall is known: later requests do not wait for it again.
      for (const answer of later) expect(answer.ms).toBeLessThan(SLACK_MS);
      expect(stalls).toBe(1);

      proxy.resume();
      let back = await laptop.get("/account/sessions");
      for (let i = 0; i < 60 && back.status !== 200; i++) {
        await sleep(250);
        back = await laptop.get("/account/sessions");
      }
      expect(back.status).toBe(200);
    } finally {
      await sessions.close();
      await proxy.close();
    }
  });
});
