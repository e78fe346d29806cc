import express, { type Express } from "express";
import session from "express-session";
import request from "supertest";
import { type AccountSource, createSessions, type Sessions } from "../../src/package/index";
import { openBackend } from "../../src/site/backend";
import { type Agent, appOn, browser, csrfFrom, quietMail, SAFARI_IPHONE, signIn, signUp, testConfig, testPasswords } from "../helpers/app";
import { freePort, type RedisServer, startRedisServer } from "../helpers/redis-server";
import { sleep } from "../helpers/stores";

declare module "express-session" {
  interface SessionData {
    passport?: { user?: number };
    flash?: Record<string, string[]>;
  }
}

/**
 * Redis away (stopped, paused, not there when the site starts) under a site that dropped the
 * package in as a tutorial builds it: its own sign-in as Passport 0.4 does it (the user written
 * into the session it has, no new id; answered 302), a flash library that writes
 * `req.session.flash = {}` on every page it renders (connect-flash's `req.flash()`, as
 * express-flash calls it), the package's store, track() and pages. No request is held longer
 * than REDIS_TIMEOUT, and only the first of an outage that long; visitors are not held at all;
 * the first sign-in after Redis is back holds.
 */
const accounts: AccountSource = {
  findById: async (id) => (id === "1" ? { id: "1", name: "Ada Lovelace" } : null),
  verifyPassword: async (id, password) => id === "1" && password === "right",
};
const secret = "the tutorial site's session secret, long enough";
const BOUND_MS = 1000;
/** What a bounded wait may take beyond the bound: timers, the event loop, the HTTP round trip on a shared machine. */
const SLACK_MS = 500;

type SignIn = "as Passport 0.4 does" | "with regenerate()";

function tutorialSite(sessions: Sessions, signIn: SignIn): Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
  // Passport's session strategy: req.user from the id in the session.
  app.use((req, _res, next) => {
    const id = req.session?.passport?.user;
    (req as { user?: unknown }).user = id === 1 ? { id: 1, name: "Ada Lovelace" } : undefined;
    next();
  });
  app.use(sessions.track());
  // express-flash: every page it renders takes the messages, which writes the session.
  const page = (req: express.Request, res: express.Response, body: object) => {
    const messages = req.session.flash ?? {};
    req.session.flash = {};
    res.json({ ...body, messages });
  };
  app.get("/", (req, res) => page(req, res, { user: (req as { user?: { id: number } }).user?.id ?? null }));
  app.get("/login", (req, res) => page(req, res, { form: "sign in" }));
  app.post("/login", (req, res, next) => {
    if (req.body.username !== "ada" || req.body.password !== "right") return res.redirect("/login");
    // req.login: the user in the session and in req.user.
    const login = () => {
      req.session.passport = { user: 1 };
      (req as { user?: unknown }).user = { id: 1, name: "Ada Lovelace" };
      res.redirect("/");
    };
    if (signIn === "as Passport 0.4 does") return login();
    req.session.regenerate((err) => (err ? next(err) : login()));
  });
  app.get("/about", (_req, res) => res.send("the site's own page, which reads no session"));
  app.use("/account", sessions.router());
  app.use(sessions.errorHandler());
  app.use((err: { status?: number; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).send(`the site's own error page: ${err.message}`);
  });
  return app;
}

interface Answer {
  path: string;
  status: number;
  retryAfter?: string;
  ms: number;
}

/** Every answer of one scenario, with how long it was held. */
/** The request sent again every 50 ms while it answers 503 (5 s at most): its first other answer. */
async function untilAnswered(send: () => PromiseLike<request.Response>): Promise<request.Response> {
  const startedAt = Date.now();
  let answer = await send();
  while (answer.status === 503 && Date.now() - startedAt < 5000) {
    await sleep(50);
    answer = await send();
  }
  return answer;
}

function recorder() {
  const answers: Answer[] = [];
  return {
    answers,
    async go(path: string, send: () => PromiseLike<request.Response>): Promise<request.Response> {
      const started = Date.now();
      const res = await send();
      answers.push({ path, status: res.status, retryAfter: res.headers["retry-after"], ms: Date.now() - started });
      return res;
    },
    longest: () => Math.max(...answers.map((a) => a.ms)),
    /** How many answers took longer than `ms`. */
    slowerThan: (ms: number) => answers.filter((a) => a.ms > ms).length,
  };
}

const signInForm = { username: "ada", password: "right" };

describe.each<SignIn>(["as Passport 0.4 does", "with regenerate()"])("Redis away under a tutorial's drop-in site, signing in %s", (signIn) => {
  let server: RedisServer | undefined;
  let sessions: Sessions | undefined;
  const errors: string[] = [];
  afterEach(async () => {
    await sessions?.close();
    await server?.stop();
    sessions = server = undefined;
  });

  function open(port: number): Express {
    sessions = createSessions({
      accounts,
      secret,
      redis: `redis://127.0.0.1:${port}`,
      env: { REDIS_TIMEOUT: String(BOUND_MS / 1000) },
      events: quietMail,
      userIdOf: (req) => (req as { user?: { id: number } }).user?.id,
    });
    const app = tutorialSite(sessions, signIn);
    // What the site's final handler would print after a response: none may come.
    app.use((err: Error, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      errors.push(err.message);
      next(err);
    });
    return app;
  }

  async function signedIn(agent: Agent, r: ReturnType<typeof recorder>): Promise<void> {
    const posted = await r.go("POST /login", () => agent.post("/login").type("form").send(signInForm));
    expect([posted.status, posted.headers.location]).toEqual([302, "/"]);
    const home = await r.go("/", () => agent.get("/"));
    expect(home.body.user).toBe(1);
  }

  test("when Redis stops, then the first request waits the bound at most, the others answer 503 at once, visitors are not held, and the first sign-in after it is back holds", async () => {
    server = await startRedisServer();
    const app = open(server.port);
    await sessions!.ready();
    const r = recorder();
    const laptop = browser(app);
    await signedIn(laptop, r);

    await server.stop();
    const outage = recorder();
    for (let i = 0; i < 5; i++) {
      const res = await outage.go("/ (signed in)", () => laptop.get("/"));
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBeDefined();
    }
    // A visitor with no cookie, and the package's stylesheet: as if nothing happened.
    const visitor = browser(app);
    for (const path of ["/", "/login", "/"]) expect((await outage.go(`${path} (visitor)`, () => visitor.get(path))).status).toBe(200);
    expect((await outage.go("/account/sessions.css", () => request(app).get("/account/sessions.css"))).status).toBe(200);
    // A sign-in attempted meanwhile, by someone with no session yet.
    const phone = browser(app);
    await outage.go("GET /login (phone)", () => phone.get("/login"));
    const attempt = await outage.go("POST /login (phone)", () => phone.post("/login").type("form").send(signInForm));
    expect([302, 303, 503]).toContain(attempt.status);
    await outage.go("/ (phone)", () => phone.get("/"));
    process.stdout.write(
      `Redis stopped, REDIS_TIMEOUT=${BOUND_MS} ms, signing in ${signIn}: ${outage.answers.map((a) => `${a.path} ${a.status} ${a.ms} ms`).join("; ")}; longest ${outage.longest()} ms\n`,
    );
    expect(outage.longest()).toBeLessThan(BOUND_MS + SLACK_MS);
    expect(outage.slowerThan(SLACK_MS)).toBeLessThanOrEqual(1);

    server = await startRedisServer({ port: server.port });
    const backAt = Date.now();
    await untilAnswered(() => laptop.get("/account/sessions"));
    const recovered = Date.now() - backAt;
    process.stdout.write(`Redis back: pages answer again ${recovered} ms after it was\n`);
    // A restarted Redis has no data: the laptop signs in again, as would the phone.
    expect(recovered).toBeLessThan(1000 + SLACK_MS);
    const after = recorder();
    await signedIn(phone, after);
    expect((await phone.get("/account/sessions")).status).toBe(200);
    await signedIn(laptop, after);
    expect(errors).toEqual([]);
  });
});

describe("Redis absent at start, then paused, under a tutorial's drop-in site", () => {
  test("when Redis is not there when the site starts, then visitors and the stylesheet answer at once, a signed-in page waits the bound once, and all works once Redis is up", async () => {
    const port = await freePort();
    const sessions = createSessions({
      accounts,
      secret,
      redis: `redis://127.0.0.1:${port}`,
      env: { REDIS_TIMEOUT: String(BOUND_MS / 1000) },
      events: quietMail,
      userIdOf: (req) => (req as { user?: { id: number } }).user?.id,
    });
    let server: RedisServer | undefined;
    try {
      const app = tutorialSite(sessions, "as Passport 0.4 does");
      const r = recorder();
      const visitor = browser(app);
      for (const path of ["/", "/login", "/", "/about"]) {
        const res = await r.go(`${path} (visitor)`, () => visitor.get(path));
        expect(`${path} ${res.status} ${res.text}`).toMatch(/^\S+ 200/);
      }
      expect((await r.go("/account/sessions.css", () => request(app).get("/account/sessions.css"))).status).toBe(200);
      const cookie = "connect.sid=s%3Aabc.def";
      for (let i = 0; i < 4; i++) {
        const res = await r.go("/account/sessions (a cookie)", () => request(app).get("/account/sessions").set("Cookie", cookie));
        expect(res.status).toBe(503);
      }
      process.stdout.write(
        `Redis absent at start, REDIS_TIMEOUT=${BOUND_MS} ms: ${r.answers.map((a) => `${a.path} ${a.status} ${a.ms} ms`).join("; ")}; longest ${r.longest()} ms\n`,
      );
      expect(r.longest()).toBeLessThan(BOUND_MS + SLACK_MS);
      expect(r.slowerThan(SLACK_MS)).toBeLessThanOrEqual(1);

      server = await startRedisServer({ port });
      await sessions.ready();
      const laptop = browser(app);
      const posted = await untilAnswered(() => laptop.post("/login").type("form").send(signInForm));
      expect(posted.status).toBe(302);
      expect((await laptop.get("/")).body.user).toBe(1);
      expect((await laptop.get("/account/sessions")).status).toBe(200);
    } finally {
      await sessions.close();
      await server?.stop();
    }
  });

  test("when Redis is paused (SIGSTOP), then the first requests wait the bound at most, later ones answer at once, visitors are not held, and pages come back once it resumes", async () => {
    const server = await startRedisServer();
    const sessions = createSessions({
      accounts,
      secret,
      redis: server.url,
      env: { REDIS_TIMEOUT: String(BOUND_MS / 1000), SESSION_CACHE_ENTRIES: "0" },
      events: quietMail,
      userIdOf: (req) => (req as { user?: { id: number } }).user?.id,
    });
    try {
      await sessions.ready();
      const app = tutorialSite(sessions, "as Passport 0.4 does");
      const laptop = browser(app);
      expect((await laptop.post("/login").type("form").send(signInForm)).status).toBe(302);
      expect((await laptop.get("/")).body.user).toBe(1);

      process.kill(server.pid, "SIGSTOP");
      const r = recorder();
      for (let i = 0; i < 4; i++) expect((await r.go("/ (signed in)", () => laptop.get("/"))).status).toBe(503);
      const visitor = browser(app);
      for (const path of ["/", "/login", "/"]) expect((await r.go(`${path} (visitor)`, () => visitor.get(path))).status).toBe(200);
      expect((await r.go("/account/sessions.css", () => request(app).get("/account/sessions.css"))).status).toBe(200);
      process.stdout.write(
        `Redis paused, REDIS_TIMEOUT=${BOUND_MS} ms: ${r.answers.map((a) => `${a.path} ${a.status} ${a.ms} ms`).join("; ")}; longest ${r.longest()} ms\n`,
      );
      expect(r.longest()).toBeLessThan(BOUND_MS + SLACK_MS);
      expect(r.slowerThan(SLACK_MS)).toBeLessThanOrEqual(1);

      process.kill(server.pid, "SIGCONT");
      const resumedAt = Date.now();
      const back = await untilAnswered(() => laptop.get("/"));
      const recovered = Date.now() - resumedAt;
      process.stdout.write(`Redis resumed: pages answer again ${recovered} ms after\n`);
      expect(back.body.user).toBe(1);
      expect(recovered).toBeLessThan(1000);
    } finally {
      process.kill(server.pid, "SIGCONT");
      await sessions.close();
      await server.stop();
    }
  });
});

describe("Redis away under the reference site", () => {
  test.each(["stopped", "paused"] as const)(
    "when Redis is %s, then the sign-in form (an account lookup) and signed-in pages answer 503 within the bound once and at once after, and the first sign-in after it is back holds",
    async (how) => {
      let server = await startRedisServer();
      const config = testConfig({ REDIS_URL: server.url, REDIS_TIMEOUT: String(BOUND_MS / 1000), SESSION_CACHE_ENTRIES: "0" });
      const backend = await openBackend(config, { events: quietMail, passwords: testPasswords });
      const app = appOn(config, backend);
      try {
        const laptop = browser(app);
        const account = await signUp(laptop);
        const phone = browser(app, SAFARI_IPHONE);
        const form = await phone.get("/login");
        expect(form.status).toBe(200);

        if (how === "stopped") await server.stop();
        else process.kill(server.pid, "SIGSTOP");
        const r = recorder();
        // The sign-in: the account is looked up by its email (the site's own Redis data).
        const attempt = await r.go("POST /login", () =>
          phone
            .post("/login")
            .type("form")
            .send({ _csrf: csrfFrom(form.text), email: account.email, password: account.password }),
        );
        expect(attempt.status).toBe(503);
        for (let i = 0; i < 3; i++) expect((await r.go("/dashboard", () => laptop.get("/dashboard"))).status).toBe(503);
        expect(
          (
            await r.go("POST /login", () =>
              phone
                .post("/login")
                .type("form")
                .send({ _csrf: csrfFrom(form.text), email: account.email, password: "x" }),
            )
          ).status,
        ).toBe(503);
        expect((await r.go("/healthz", () => request(app).get("/healthz"))).status).toBe(200);
        process.stdout.write(
          `reference site, Redis ${how}, REDIS_TIMEOUT=${BOUND_MS} ms: ${r.answers.map((a) => `${a.path} ${a.status} ${a.ms} ms`).join("; ")}; longest ${r.longest()} ms\n`,
        );
        expect(r.longest()).toBeLessThan(BOUND_MS + SLACK_MS);
        expect(r.slowerThan(SLACK_MS)).toBeLessThanOrEqual(1);

        if (how === "stopped") server = await startRedisServer({ port: server.port });
        else process.kill(server.pid, "SIGCONT");
        const backAt = Date.now();
        while ((await request(app).get("/readyz")).status !== 200 && Date.now() - backAt < 5000) await sleep(50);
        process.stdout.write(`reference site, Redis back from ${how}: ready again after ${Date.now() - backAt} ms\n`);
        if (how === "paused") {
          // Its data kept: the first sign-in after the outage holds.
          const signedIn = await signIn(phone, account);
          expect(signedIn.status).toBe(303);
          expect((await phone.get("/dashboard")).status).toBe(200);
        } else {
          // A restarted Redis without persistence has no accounts: a new one signs up and in.
          const again = browser(app);
          await signUp(again);
          expect((await again.get("/dashboard")).status).toBe(200);
        }
      } finally {
        if (how === "paused") process.kill(server.pid, "SIGCONT");
        await backend.close();
        await server.stop();
      }
    },
  );
});
