import express, { type Express } from "express";
import session from "express-session";
import type { RedisClientType } from "redis";
import request from "supertest";
import { ConfigError, createSessions, type MailMessage, type Sessions } from "../../src/package/index";
import { browser, cookieOf, csrfFrom, quietMail } from "../helpers/app";
import { accountsOf, passportSite } from "../helpers/passport";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";
import { redisName, topology } from "../helpers/topology";

declare module "express-session" {
  interface SessionData {
    greeting?: string;
    cart?: string[];
    userId?: number;
  }
}

// A site's own users, with integer ids and fields the sessions never see (plan).
interface Row {
  id: number;
  name: string;
  email: string;
  password: string;
  plan: string;
}
const rows: Row[] = [
  { id: 1, name: "Ada Lovelace", email: "ada@example.com", password: "ada's password", plan: "pro" },
  { id: 2, name: "Grace Hopper", email: "grace@example.com", password: "grace's password", plan: "free" },
];
const accounts = accountsOf(rows);
const secret = "the site's own session secret, long enough";
const SESSIONS_PAGE = "/account/sessions";

/** An Express site with Passport, its own sign-in form (no CSRF token) and its own session(). */
function sitesOwnSignIn(sessions: Sessions): Express {
  const { app, passport } = passportSite(sessions, rows, secret);
  app.post("/login", passport.authenticate("local", { failureRedirect: "/login" }), (req, res) => {
    req.session.greeting = "kept by the site";
    if (req.body.remember) req.session.cookie.maxAge = 14 * 24 * 3600 * 1000;
    res.redirect(303, "/");
  });
  app.post("/logout", (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect(303, "/"))));
  app.post("/cart", (req, res) => {
    req.session.cart = [...(req.session.cart ?? []), String(req.body.item)];
    res.redirect(303, "/");
  });
  app.get("/", (req, res) => {
    const message = res.locals.flash();
    res.json({ user: req.user ?? null, greeting: req.session.greeting ?? null, cart: req.session.cart ?? [], message: message?.text ?? null });
  });
  app.use("/account", sessions.router());
  app.use("/api", sessions.apiRouter());
  app.use(sessions.errorHandler());
  return app;
}

/** A site that signs in by hand: `req.session.userId = id`, after a regenerate (Express's own example). */
function handWrittenSite(sessions: Sessions): Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false, name: "site.sid" }));
  app.use(sessions.track());
  app.post("/login", (req, res, next) => {
    const row = rows.find((r) => r.email === req.body.email && r.password === req.body.password);
    if (!row) return res.status(401).send("no");
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = row.id;
      res.redirect(303, "/");
    });
  });
  app.post("/logout", (req, res) => {
    delete req.session.userId;
    res.redirect(303, "/");
  });
  app.get("/", (req, res) => res.json({ userId: req.session.userId ?? null, typeOfUserId: typeof req.session.userId }));
  app.use("/account", sessions.router());
  app.use(sessions.errorHandler());
  return app;
}

async function signInThroughSite(agent: ReturnType<typeof browser>, row: Row, extra: Record<string, string> = {}) {
  const res = await agent
    .post("/login")
    .type("form")
    .send({ email: row.email, password: row.password, ...extra });
  expect(res.status).toBe(303);
  return res;
}

function handlesOn(html: string): string[] {
  return [...html.matchAll(/action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map((m) => m[1]);
}

// On a Cluster and behind Sentinel, the Redis store only: the embedded one runs once.
const kinds = topology() === "single" ? ["embedded", redisName()] : [redisName()];

describe.each(kinds)("a site that keeps its own sign-in (%s)", (kind) => {
  let client: RedisClientType | undefined;
  let sessions: Sessions;
  let app: Express;
  const mails: MailMessage[] = [];
  beforeAll(async () => {
    if (kind !== "embedded") client = await connectTestRedis();
    sessions = createSessions({
      accounts,
      secret,
      events: { mailWritten: (message) => mails.push(message) },
      redis: client,
      keyPrefix: uniquePrefix(),
      env: { SIGNIN_CHECKS_PER_IP: "10000", SIGNIN_CHECKS_PER_ACCOUNT: "10000" },
      userIdOf: (req) => (req.user as Row | undefined)?.id,
    });
    app = sitesOwnSignIn(sessions);
  });
  afterAll(async () => {
    await sessions.close();
    await client?.close();
  });

  test("when a person signs in through Passport, then req.user stays the site's own row and the session is listed at once", async () => {
    const laptop = browser(app);
    await signInThroughSite(laptop, rows[0]);
    const home = await laptop.get("/");
    // The site's own user: its integer id and the fields deserializeUser added.
    expect(home.body.user).toEqual({ ...rows[0] });
    expect(home.body.greeting).toBe("kept by the site");
    const page = await laptop.get(SESSIONS_PAGE);
    expect(page.status).toBe(200);
    expect(page.text).toContain("This device");
    const activity = await laptop.get("/account/activity");
    expect(activity.text).toMatch(/Signed in/);
    // A device the account had not used: its owner is told by mail, with the link to end it.
    expect(mails.filter((m) => m.to === rows[0].email).at(-1)?.text).toMatch(/Chrome on Windows[\s\S]*\/account\/sessions\/not-me\?t=/);
  });

  test("when a person signs in with 'remember me', then the cookie keeps the site's expiry through the package's new id", async () => {
    const laptop = browser(app);
    // Indexed before the sign-in's own response: that response carries the new id.
    const cookie = cookieOf(await signInThroughSite(laptop, rows[0], { remember: "1" }), "connect.sid");
    expect(cookie).toBeDefined();
    const indexed = await laptop.get("/");
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie!)![1]);
    expect(expires).toBeGreaterThan(Date.now() + 13 * 24 * 3600 * 1000);
    expect(indexed.body.greeting).toBe("kept by the site");
    const row = (await sessions.getUserSessions("1")).find((s) => s.persistent);
    expect(row).toBeDefined();
  });

  test("when one device ends another and then all others, then those devices are signed out of the site", async () => {
    const [laptop, phone, tablet] = [browser(app), browser(app, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"), browser(app)];
    for (const agent of [laptop, phone, tablet]) {
      await signInThroughSite(agent, rows[1]);
      expect((await agent.get("/")).body.user.id).toBe(2);
    }
    const page = await laptop.get(SESSIONS_PAGE);
    const handles = handlesOn(page.text);
    expect(handles).toHaveLength(2);
    const phoneHandle = (await sessions.getUserSessions("2")).find((s) => s.userAgent.includes("iPhone"))!.handle;
    // The package's form carries its token (and the password: the site's sign-in was not seen by the package).
    const ended = await laptop
      .post(`/account/sessions/${phoneHandle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password: rows[1].password });
    expect(ended.status).toBe(303);
    const phoneHome = await phone.get("/");
    expect(phoneHome.body.user).toBeNull();
    expect(phoneHome.body.message).toMatch(/ended from another device|signed out/i);

    const again = await laptop.get(SESSIONS_PAGE);
    const all = await laptop
      .post("/account/sessions/revoke-others")
      .type("form")
      .send({ _csrf: csrfFrom(again.text), password: rows[1].password });
    expect(all.status).toBe(303);
    expect((await tablet.get("/")).body.user).toBeNull();
    expect((await laptop.get("/")).body.user.id).toBe(2);
    expect(await sessions.getUserSessions("2")).toHaveLength(1);
  });

  test("when the site signs out with req.logout, then the session leaves the index and the activity says so", async () => {
    const laptop = browser(app);
    await signInThroughSite(laptop, rows[0]);
    await laptop.get("/");
    const before = (await sessions.getUserSessions("1")).length;
    const out = await laptop.post("/logout");
    expect(out.status).toBe(303);
    expect((await laptop.get("/")).body.user).toBeNull();
    expect(await sessions.getUserSessions("1")).toHaveLength(before - 1);
    const { entries } = await sessions.activity.list("1", { limit: 5 });
    expect(entries[0].type).toBe("signed_out");
  });

  test("when the site's own forms post without the package's token, then they work; the package's forms without it are refused", async () => {
    const laptop = browser(app);
    await signInThroughSite(laptop, rows[0]);
    expect((await laptop.post("/cart").type("form").send({ item: "tea" })).status).toBe(303);
    expect((await laptop.get("/")).body.cart).toEqual(["tea"]);
    const refused = await laptop.post("/account/sessions/revoke-others").type("form").send({ password: rows[0].password });
    expect(refused.status).toBe(403);
    expect(refused.text).not.toMatch(/at \w+ \(/);
  });

  test("when a script of the site uses the JSON API, then it reads its JSON body and checks the token in its header", async () => {
    const laptop = browser(app);
    await signInThroughSite(laptop, rows[0]);
    const list = await laptop.get("/api/sessions");
    expect(list.status).toBe(200);
    expect(list.body.sessions.some((s: { current: boolean }) => s.current)).toBe(true);
    const forged = await laptop.post("/api/sessions/revoke-others").send({ password: rows[0].password });
    expect(forged.status).toBe(403);
    expect(forged.body.error).toBeDefined();
    const token = csrfFrom((await laptop.get(SESSIONS_PAGE)).text);
    const ended = await laptop.post("/api/sessions/revoke-others").set("X-CSRF-Token", token).send({ password: rows[0].password });
    expect(ended.status).toBe(200);
  });

  test("when two requests are the first after a sign-in at once, then the session is indexed once", async () => {
    const laptop = browser(app);
    const before = (await sessions.getUserSessions("2")).length;
    await signInThroughSite(laptop, rows[1]);
    await Promise.all([laptop.get("/"), laptop.get("/")]);
    expect(await sessions.getUserSessions("2")).toHaveLength(before + 1);
  });
});

/** On the embedded store, in the single-server run only: on a Cluster or Sentinel it would be the same run again. */
function once(name: string, tests: () => void): void {
  if (topology() === "single") describe(name, tests);
}

once("a site that sets req.session.userId itself", () => {
  let sessions: Sessions;
  let app: Express;
  beforeAll(async () => {
    sessions = createSessions({ accounts, secret, userIdOf: (req) => req.session?.userId, cookieName: "site.sid", env: {}, events: quietMail });
    app = handWrittenSite(sessions);
  });
  afterAll(async () => sessions.close());

  test("when it signs in and out by hand, then its userId stays a number, the session is listed, and the sign-out ends it", async () => {
    const laptop = browser(app);
    const login = await laptop.post("/login").type("form").send({ email: rows[0].email, password: rows[0].password });
    expect(login.status).toBe(303);
    expect((await laptop.get("/")).body).toEqual({ userId: 1, typeOfUserId: "number" });
    expect((await laptop.get(SESSIONS_PAGE)).text).toContain("This device");
    const count = (await sessions.getUserSessions("1")).length;
    expect(count).toBeGreaterThan(0);
    await laptop.post("/logout");
    expect((await laptop.get("/")).body.userId).toBeNull();
    expect(await sessions.getUserSessions("1")).toHaveLength(count - 1);
    expect((await sessions.activity.list("1", { limit: 1 })).entries[0].type).toBe("signed_out");
  });

  test("when a session of the site is ended elsewhere, then its next page is signed out and says why", async () => {
    const [laptop, phone] = [browser(app), browser(app)];
    for (const agent of [laptop, phone]) {
      await agent.post("/login").type("form").send({ email: rows[1].email, password: rows[1].password });
      await agent.get("/");
    }
    expect(await sessions.store.endUserSessions("2", undefined, { reason: "admin", at: Date.now() })).toBeGreaterThanOrEqual(2);
    expect((await phone.get("/")).body.userId).toBeNull();
    expect((await laptop.get(SESSIONS_PAGE)).status).toBe(303);
  });
});

once("the drop-in's mistakes are named at once", () => {
  test("when userIdOf is not a function, then createSessions refuses it", async () => {
    expect(() => createSessions({ accounts, secret, env: {}, userIdOf: "req.user.id" as never })).toThrow(/`userIdOf` must be a function/);
  });

  test("when a site with userIdOf asks for middleware(), or one without it for track(), then each says what to use", async () => {
    const tracking = createSessions({ accounts, secret, env: {}, userIdOf: () => undefined });
    const signingIn = createSessions({ accounts, secret, env: {} });
    try {
      expect(() => tracking.middleware()).toThrow(ConfigError);
      expect(() => tracking.middleware()).toThrow(/sessions\.track\(\)/);
      expect(() => signingIn.track()).toThrow(/pass `userIdOf`/);
    } finally {
      await tracking.close();
      await signingIn.close();
    }
  });

  test("when a signed-out visitor of the drop-in site asks for the sessions page, then they go to the site's sign-in page", async () => {
    const sessions = createSessions({ accounts, secret, env: {}, userIdOf: () => undefined, signInPath: "/sign-in" });
    try {
      const app = express();
      app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
      app.use(sessions.track());
      app.use("/account", sessions.router());
      const res = await request(app).get(SESSIONS_PAGE);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/sign-in?next=%2Faccount%2Fsessions");
    } finally {
      await sessions.close();
    }
  });
});
