import signature from "cookie-signature";
import express from "express";
import { createClient, type RedisClientType } from "redis";
import request from "supertest";
import { DeviceCookies } from "../src/package/auth/device-cookie";
import { type AccountSource, ConfigError, createSessions, type SessionAccount, type Sessions, safeNext } from "../src/package/index";
import { MailLinks } from "../src/package/mail/mail-links";
import { csrfProtection } from "../src/package/middleware/csrf";
import { accountLabel } from "../src/package/users/account";
import { browser, csrfFrom, quietMail } from "./helpers/app";
import { startRedisServer } from "./helpers/redis-server";

const ada: SessionAccount = { id: "u-ada", name: "Ada Lovelace", email: "ada@example.com", credentialVersion: 3 };
const accounts: AccountSource = {
  findById: async (id) => (id === ada.id ? ada : null),
  verifyPassword: async (id, password) => id === ada.id && password === "right password",
};
const secret = "a secret for the package surface tests";

describe("createSessions: mistakes fail the start, with a message that names them", () => {
  test.each<[string, Record<string, unknown>, RegExp]>([
    ["no accounts", { secret }, /`accounts` must have findById\(id\) and verifyPassword\(id, password\)/],
    ["accounts without verifyPassword", { secret, accounts: { findById: accounts.findById } }, /verifyPassword/],
    ["a Redis client of another kind (ioredis-like)", { secret, accounts, redis: { get() {}, zadd() {} } }, /from the "redis" package.*no zAdd/],
    ["a secret too short in production", { secret: "short", accounts, env: { NODE_ENV: "production" }, redis: "connected" }, /at least 32 characters/],
    ["production without Redis", { secret, accounts, env: { NODE_ENV: "production" } }, /REDIS_URL is required/],
    ["a setting that is not a number", { secret, accounts, env: { SESSION_IDLE_TIMEOUT: "soon" } }, /SESSION_IDLE_TIMEOUT/],
  ])("when given %s, then it throws at once", (_name, options, message) => {
    // Shaped like a connected node-redis client; the settings are refused before it is used.
    const connected = { isOpen: true, get() {}, zAdd() {}, zRangeWithScores() {}, evalSha() {}, duplicate() {} };
    const given = options.redis === "connected" ? { ...options, redis: connected } : options;
    expect(() => createSessions(given as never)).toThrow(ConfigError);
    expect(() => createSessions(given as never)).toThrow(message);
  });

  test("when the process runs with NODE_ENV=production and env names only a setting, then production still holds", async () => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    try {
      // The embedded store and development cookies would be a silent downgrade: refused.
      expect(() => createSessions({ accounts, secret: "s".repeat(40), env: { SESSION_IDLE_TIMEOUT: "3600" } })).toThrow(/REDIS_URL is required/);
    } finally {
      process.env.NODE_ENV = before;
    }
    const development = createSessions({ accounts, secret, env: { SESSION_IDLE_TIMEOUT: "3600", NODE_ENV: undefined } });
    expect(development.config.production).toBe(false);
    expect(development.config.idleTimeout).toBe(3600);
    await development.close();
  });

  test("when a site's client keeps node-redis's offline queue, then the start is refused saying what to set", async () => {
    const server = await startRedisServer();
    const client = (await createClient({ url: server.url }).connect()) as RedisClientType;
    try {
      expect(() => createSessions({ accounts, secret, redis: client, env: {} })).toThrow(/disableOfflineQueue: true/);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  test("when Redis stops under a site's own client that has no error listener, then pages answer 503 and the process lives on", async () => {
    const server = await startRedisServer();
    const client = (await createClient({ url: server.url, disableOfflineQueue: true }).connect()) as RedisClientType;
    const heard: string[] = [];
    const sessions = createSessions({ accounts, secret, redis: client, env: {}, events: { redisError: (err) => heard.push(err.message) } });
    try {
      expect(client.listenerCount("error")).toBe(1);
      const app = express();
      app.use(sessions.middleware());
      app.get("/", (_req, res) => res.send("home"));
      app.use("/account", sessions.router());
      app.use(sessions.errorHandler());
      const agent = browser(app);
      expect((await agent.get("/")).status).toBe(200);
      await server.stop();
      // A signed session cookie makes the request read the store, which cannot answer.
      const cookie = `sid=${encodeURIComponent(`s:${signature.sign("a".repeat(32), secret)}`)}`;
      for (const path of ["/", "/account/sessions"]) {
        const res = await request(app).get(path).set("Cookie", cookie);
        expect(res.status).toBe(503);
        expect(res.headers["retry-after"]).toBe("5");
        expect(res.text).toContain("cannot be reached right now");
        expect(res.text).not.toMatch(/at \w+ \(/);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(heard.length).toBeGreaterThan(0);
    } finally {
      await sessions.close();
      client.destroy();
    }
  });

  test("when the Redis client was never asked to connect, then it says so", () => {
    const client = createClient() as RedisClientType;
    expect(() => createSessions({ accounts, secret, redis: client, env: {} })).toThrow(/not connected: call client.connect\(\) first/);
  });
});

describe("createSessions with an older, shorter secret kept after a strong one", () => {
  test("when production is given a strong secret and the site's old short one after it, then the start is accepted and the old one verifies no token of the package's", async () => {
    const strong = "a strong secret of forty characters long";
    const old = "keyboard cat";
    expect(() => createSessions({ accounts, secret: [old, strong], env: { NODE_ENV: "production" }, redis: "redis://127.0.0.1:1" })).toThrow(
      /first session secret \(the one that signs\) must be at least 32 characters long.*secret: \[process\.env\.SESSION_SECRET, process\.env\.OLD_SESSION_SECRET\]/,
    );
    const server = await startRedisServer();
    const client = (await createClient({ url: server.url, disableOfflineQueue: true }).connect()) as RedisClientType;
    const sessions = createSessions({ accounts, secret: [strong, old], redis: client, env: { NODE_ENV: "production" } });
    try {
      // Session cookies the old secret signed still verify (nobody is signed out by the move)...
      expect(sessions.config.sessionSecrets).toEqual([strong, old]);
      // ...but a mail link, a device or message cookie, a CSRF token or a rotated id never does.
      expect(sessions.config.tokenSecrets).toEqual([strong]);
      const link = sessions.links.make("not-me", ada.id, { session: "handle" });
      expect(sessions.links.read(link, "not-me")).toMatchObject({ userId: ada.id, session: "handle" });
      const forged = new MailLinks([old]).make("not-me", ada.id, "handle", Date.now());
      expect(sessions.links.read(forged, "not-me")).toBeNull();
    } finally {
      await sessions.close();
      await client.close();
      await server.stop();
    }
  });
});

describe("a short secret outside production (NODE_ENV unset, as pm2, systemd and containers often leave it)", () => {
  const old = "keyboard cat";
  const strong = "a strong secret of forty characters long";
  /** What someone who knows the tutorial's secret can make: a visitor's CSRF token and its cookie, signed with it. */
  async function forgedVisitorToken(): Promise<{ token: string; cookie: string }> {
    const forger = express();
    const forgery = csrfProtection([old], false);
    forger.get("/", (req, res) => res.send(forgery.tokenFor(req, res)));
    const res = await request(forger).get("/");
    return { token: res.text, cookie: (res.headers["set-cookie"] as unknown as string[])[0].split(";")[0] };
  }

  test.each([
    ["after a strong one", [strong, old]],
    ["alone", [old]],
  ])(
    "when the old secret is kept %s, then no mail link, visitor CSRF token or device cookie it signs is taken, and tokens the package makes work",
    async (_, given) => {
      const warnings: string[] = [];
      const sessions = createSessions({ accounts, secret: given, env: { NODE_ENV: undefined }, events: { ...quietMail, warning: (m) => warnings.push(m) } });
      try {
        expect(sessions.config.production).toBe(false);
        expect(sessions.config.tokenSecrets).not.toContain(old);
        // Alone, it is said at start: the package's tokens are signed with a key of this process.
        if (given.length === 1) expect(warnings).toEqual([expect.stringMatching(/no secret of 32 characters or more.*stop working when it restarts/)]);
        else expect(warnings).toEqual([]);
        // A new-password link and a "This wasn't me" link for any account, signed with the old secret: refused.
        for (const kind of ["not-me", "reset"] as const) {
          const forged = new MailLinks([old]).make(kind, ada.id, "handle", Date.now());
          expect(sessions.links.read(forged, kind)).toBeNull();
          const made = sessions.links.make(kind, ada.id, { session: "handle" });
          expect(sessions.links.read(made, kind)).toMatchObject({ userId: ada.id });
        }
        const app = bareSite(sessions);
        app.post("/signin", async (req, res) => {
          await sessions.signIn(req, ada);
          res.redirect(303, "/");
        });
        app.use(sessions.errorHandler());
        // The sign-in form's double-submit token and cookie, made with the old secret: refused.
        const { token, cookie } = await forgedVisitorToken();
        const forged = await request(app).post("/signin").set("Cookie", cookie).type("form").send({ _csrf: token });
        expect(forged.status).toBe(403);
        // A device cookie made with the old secret is no known device: the sign-in is told by mail.
        const forgedDevice = new DeviceCookies([old], "device", false);
        const planted = express();
        planted.get("/", (req, res) => {
          forgedDevice.remember(req, res, accountLabel(ada.id, ada.email), ada.credentialVersion ?? 0);
          res.end();
        });
        const deviceCookie = ((await request(planted).get("/")).headers["set-cookie"] as unknown as string[])[0].split(";")[0];
        const agent = browser(app);
        const form = await agent.get("/signin");
        const signedIn = await agent
          .post("/signin")
          .set("Cookie", deviceCookie)
          .type("form")
          .send({ _csrf: csrfFrom(form.text) });
        expect(signedIn.status).toBe(303);
        expect(
          sessions.throttle.devices.knownDevice(
            { headers: { cookie: deviceCookie } } as express.Request,
            accountLabel(ada.id, ada.email),
            ada.credentialVersion ?? 0,
          ),
        ).toBeNull();
      } finally {
        await sessions.close();
      }
    },
  );
});

describe("createSessions and locations", () => {
  test("when GEOIP_DATABASE is off, then no address is placed; otherwise a public one is", async () => {
    const off = createSessions({ accounts, secret, env: { GEOIP_DATABASE: "off" } });
    const on = createSessions({ accounts, secret, env: {} });
    try {
      await Promise.all([off.ready(), on.ready()]);
      expect(off.locate("81.2.69.160")).toBeNull();
      expect(on.locate("81.2.69.160")).toBe("Bracknell, United Kingdom");
      expect(on.locate("10.0.0.1")).toBeNull();
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });

  test("when GEOIP_DATABASE names no readable file, then the start fails saying so", async () => {
    expect(() => createSessions({ accounts, secret, env: { GEOIP_DATABASE: "/nonexistent/city.mmdb" } })).toThrow(
      /GEOIP_DATABASE: cannot read \/nonexistent\/city.mmdb/,
    );
  });
});

/** A site with nothing but the package's middleware and a sign-in form that shows its token; the test adds its POST. */
function bareSite(sessions: Sessions): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(sessions.middleware());
  app.get("/signin", (_req, res) => res.send(`<form><input name="_csrf" value="${res.locals.csrfToken()}"></form>`));
  return app;
}

describe("createSessions on a bare Express app, with the package's own pages", () => {
  test("when an account signs in through the site's route, then /account/sessions lists it in the package's layout", async () => {
    const sessions = createSessions({ accounts, secret, env: {}, events: quietMail });
    try {
      const app = bareSite(sessions);
      app.post("/signin", async (req, res) => {
        // A site's own row, not mapped: signIn takes the account as findById gives it.
        await sessions.signIn(req, { id: ada.id, name: "row", email: ada.email, passwordHash: "x" } as SessionAccount);
        res.redirect(303, "/account/sessions");
      });
      app.use("/account", sessions.router());
      app.use(sessions.errorHandler());

      const agent = browser(app);
      expect((await agent.get("/account/sessions")).headers.location).toBe("/login?next=%2Faccount%2Fsessions");
      const form = await agent.get("/signin");
      expect((await agent.post("/signin").type("form").send({ _csrf: "forged" })).status).toBe(403);
      expect(
        (
          await agent
            .post("/signin")
            .type("form")
            .send({ _csrf: csrfFrom(form.text) })
        ).status,
      ).toBe(303);
      const page = await agent.get("/account/sessions");
      expect(page.status).toBe(200);
      expect(page.text).toContain("<title>Your sessions</title>");
      expect(page.text).toContain("Chrome on Windows");
      expect(page.text).toContain('href="/account/activity"');
      // The package's own layout: one h1, and its own few rules, served beside the pages.
      expect(page.text.match(/<h1[ >]/g)).toHaveLength(1);
      expect(page.text).toContain("<h1>Your sessions</h1>");
      expect(page.text).toContain('<link rel="stylesheet" href="/account/sessions.css">');
      const css = await agent.get("/account/sessions.css");
      expect(css.status).toBe(200);
      expect(css.headers["content-type"]).toMatch(/^text\/css/);
      expect(css.text).toContain(".visually-hidden");
      expect((await sessions.getUserSessions(ada.id)).map((s) => s.handle)).toHaveLength(1);
      // The account changes; the session started with findById's credential version, so it stays.
      await sessions.accountChanged(ada.id);
      expect((await agent.get("/account/sessions")).status).toBe(200);
      expect((await request(app).post("/account/sessions/revoke-others")).status).toBe(403);
    } finally {
      await sessions.close();
    }
  });
});

describe("createSessions judges where a sign-in goes next", () => {
  test("when a site passes a form's next to signIn and the sign-in waits at the cap, then the choice leads to a path on this site, never another host", async () => {
    const sessions = createSessions({ accounts, secret, env: { SESSION_MAX_PER_USER: "1", SESSION_LIMIT_POLICY: "ask" }, events: quietMail });
    try {
      const app = bareSite(sessions);
      app.post("/signin", async (req, res) => {
        // The site passes the form's next as it came.
        const outcome = await sessions.signIn(req, ada, { next: req.body.next });
        res.redirect(303, outcome === "choose" ? "/account/sessions/choose" : safeNext(req.body.next, "/"));
      });
      app.use("/account", sessions.router());
      app.use(sessions.errorHandler());
      const signInWith = async (agent: ReturnType<typeof browser>, next: string) => {
        const form = await agent.get("/signin");
        return agent
          .post("/signin")
          .type("form")
          .send({ _csrf: csrfFrom(form.text), next });
      };
      const first = browser(app);
      expect((await signInWith(first, "//evil.example/first")).headers.location).toBe("/");
      const second = browser(app);
      expect((await signInWith(second, "/\\evil.example")).headers.location).toBe("/account/sessions/choose");
      const page = await second.get("/account/sessions/choose");
      const handle = /name="end" value="([A-Za-z0-9_-]{22})"/.exec(page.text)![1];
      const chosen = await second
        .post("/account/sessions/choose")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), end: handle });
      expect(chosen.status).toBe(303);
      expect(chosen.headers.location).toBe("/");
      expect(safeNext("/account/activity?x=1", "/")).toBe("/account/activity?x=1");
    } finally {
      await sessions.close();
    }
  });
});
