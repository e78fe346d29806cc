import { csrfSync } from "csrf-sync";
import csurf from "csurf";
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from "express";
import session from "express-session";
import type { RedisClientType } from "redis";
import { type AccountSource, createSessions, type MailMessage, type Sessions, setFlash } from "../../src/package/index";
import { type Agent, browser, cookieOf, csrfFieldsFrom, SAFARI_IPHONE, sentSessionCookie } from "../helpers/app";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";

declare module "express-session" {
  interface SessionData {
    userId?: number;
    returnTo?: string;
  }
}

/**
 * A site as sites are: its own session(), its own CSRF check on every route (csurf or
 * csrf-sync, the package's routes included), its own sign-in by username (accounts without an
 * email), its own 404 and error pages, and the package dropped in with track(), the router and
 * the error handler.
 */
interface Row {
  id: number;
  username: string;
  name: string;
  password: string;
  email?: string;
  role?: string;
}
const rows: Row[] = [
  { id: 1, username: "ada", name: "Ada Lovelace", password: "ada's password" },
  { id: 2, username: "grace", name: "Grace Hopper", password: "grace's password", email: "grace@example.com" },
];
const rowOf = (id: unknown) => rows.find((r) => String(r.id) === String(id));
// No email for Ada: what findById gives is what the site has.
const accounts: AccountSource = {
  findById: async (id) => {
    const row = rowOf(id);
    return row ? { id: String(row.id), name: row.name, ...(row.email ? { email: row.email } : {}), ...(row.role ? { role: row.role } : {}) } : null;
  },
  verifyPassword: async (id, password) => rowOf(id)?.password === password,
};
const secret = "the drop-in site's session secret, long enough";

type CsrfKind = "csurf" | "csrf-sync";

function siteCsrf(kind: CsrfKind): RequestHandler {
  if (kind === "csurf") return csurf();
  // csrf-sync as its README sets it up for HTML forms: the token from the `_csrf` field or the header.
  return csrfSync({ getTokenFromRequest: (req) => (req.body?._csrf as string | undefined) ?? (req.headers["x-csrf-token"] as string | undefined) })
    .csrfSynchronisedProtection;
}

const form = (req: Request, action: string) => `<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${req.csrfToken!()}"></form>`;

function dropInSite(sessions: Sessions, kind: CsrfKind): Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
  app.use(siteCsrf(kind));
  app.use(sessions.track());
  app.get("/login", (req, res) => res.send(form(req, "/login")));
  app.post("/login", (req, res, next) => {
    const row = rows.find((r) => r.username === req.body.username && r.password === req.body.password);
    if (!row) return res.status(401).send("no");
    const back = req.session.returnTo ?? "/";
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = row.id;
      res.redirect(303, back);
    });
  });
  app.get("/", (req, res) => res.json({ userId: req.session.userId ?? null, message: res.locals.flash?.()?.text ?? null, form: form(req, "/notes") }));
  app.get("/where", (req, res) => res.json({ returnTo: req.session.returnTo ?? null }));
  // A sign-out as some sites write it: destroy() with no callback (express-session allows it).
  app.get("/quit", (req, res) => {
    req.session.destroy(undefined as unknown as () => void);
    res.json({ quit: true });
  });
  app.post("/notes", (_req, res) => res.redirect(303, "/"));
  // An app of its own mounted on the site's (Express gives its requests another prototype).
  const shop = express();
  shop.get("/hello", (req, res) => {
    setFlash(req, "info", "Welcome to the shop");
    res.redirect(303, "/");
  });
  app.use("/shop", shop);
  app.use("/account", sessions.router());
  app.use("/api", sessions.apiRouter());
  app.use(sessions.errorHandler());
  // The site's own 404 and error page.
  app.use((_req, _res, next) => next(Object.assign(new Error("Not Found"), { status: 404, expose: true })));
  const sitesOwn: ErrorRequestHandler = (err, _req, res, _next) => {
    res.status(err.status ?? 500).send(`the site's own error page: ${err.code ?? err.type ?? err.message}`);
  };
  app.use(sitesOwn);
  return app;
}

async function signIn(agent: Agent, row: Row) {
  const page = await agent.get("/login");
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
  const res = await agent.post("/login").type("form").send({ username: row.username, password: row.password, _csrf: token });
  expect(res.status).toBe(303);
  return res;
}

const tokenOn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

describe.each<CsrfKind>(["csurf", "csrf-sync"])("a site with its own CSRF check (%s) on every route, the package dropped in", (kind) => {
  let client: RedisClientType;
  let sessions: Sessions;
  let app: Express;
  const mails: MailMessage[] = [];
  let clockAhead = 0;

  beforeAll(async () => {
    client = await connectTestRedis();
    sessions = createSessions({
      accounts,
      secret,
      now: () => Date.now() + clockAhead,
      redis: client,
      keyPrefix: uniquePrefix(),
      env: {},
      events: { mailWritten: (message) => mails.push(message) },
      userIdOf: (req) => req.session?.userId,
    });
    app = dropInSite(sessions, kind);
  });
  afterAll(async () => {
    await sessions.close();
    await client.close();
  });

  test("when an app mounted on the site's leaves a message for a visitor, then it travels in the signed message cookie and the next page shows it once", async () => {
    const visitor = browser(app);
    const left = await visitor.get("/shop/hello");
    expect(left.status).toBe(303);
    const cookies = (left.headers["set-cookie"] as unknown as string[] | undefined) ?? [];
    expect(cookies.some((c) => c.startsWith("flash="))).toBe(true);
    expect((await visitor.get("/")).body.message).toBe("Welcome to the shop");
    expect((await visitor.get("/")).body.message).toBeNull();
  });

  test("when a person uses the sessions page, then its forms carry the site's token and the package's own and work, and the site's own forms still do", async () => {
    const [laptop, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
    for (const agent of [laptop, phone]) {
      await signIn(agent, rows[0]);
      expect((await agent.get("/")).body.userId).toBe(1);
    }
    const page = await laptop.get("/account/sessions");
    expect(page.status).toBe(200);
    const ended = await laptop
      .post("/account/sessions/revoke-others")
      .type("form")
      .send({ ...csrfFieldsFrom(page.text, "/account/sessions/revoke-others"), password: rows[0].password });
    expect(ended.status).toBe(303);
    expect((await phone.get("/")).body).toMatchObject({ userId: null, message: expect.stringMatching(/signed out from Chrome on Windows/) });
    const home = await laptop.get("/");
    expect(
      (
        await laptop
          .post("/notes")
          .type("form")
          .send({ _csrf: tokenOn(home.body.form) })
      ).status,
    ).toBe(303);
  });

  test("when a form of the package's comes without the site's token, or with a made-up one, then the site's check refuses it and nothing ends", async () => {
    const [laptop, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
    for (const agent of [laptop, phone]) await signIn(agent, rows[0]);
    const before = (await sessions.getUserSessions("1")).length;
    for (const fields of [{ password: rows[0].password }, { password: rows[0].password, _csrf: "made-up" }]) {
      const forged = await laptop.post("/account/sessions/revoke-others").type("form").send(fields);
      expect(forged.status).toBe(403);
      // The site's refusal of a request to the package's route: the site's own page says so.
      expect(forged.text).toBe("the site's own error page: EBADCSRFTOKEN");
    }
    expect(await sessions.getUserSessions("1")).toHaveLength(before);
    expect((await phone.get("/")).body.userId).toBe(1);
  });

  test("when a script ends the other sessions through the API with the site's token in X-CSRF-Token and the package's in X-Sessions-CSRF-Token, then it works; without the site's, the site's check refuses", async () => {
    const [laptop, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
    for (const agent of [laptop, phone]) await signIn(agent, rows[0]);
    const token = tokenOn((await laptop.get("/")).body.form)!;
    const list = await laptop.get("/api/sessions");
    // Devices and addresses: no cache keeps them, as none keeps the pages.
    expect(list.headers["cache-control"]).toBe("no-store, no-cache");
    expect((await laptop.get("/api/activity")).headers["cache-control"]).toBe("no-store, no-cache");
    const own = list.body.csrfToken as string;
    expect(own).toEqual(expect.any(String));
    const refused = await laptop.post("/api/sessions/revoke-others").set("X-Sessions-CSRF-Token", own).send({ password: rows[0].password });
    expect([refused.status, refused.text]).toEqual([403, "the site's own error page: EBADCSRFTOKEN"]);
    expect((await phone.get("/")).body.userId).toBe(1);
    const ended = await laptop
      .post("/api/sessions/revoke-others")
      .set("X-CSRF-Token", token)
      .set("X-Sessions-CSRF-Token", own)
      .send({ password: rows[0].password });
    expect(ended.status).toBe(200);
    expect((await phone.get("/")).body.userId).toBeNull();
  });

  test("when an intruder signs in again in the same browser (the site regenerates), then the alert's link still ends the intruder's session", async () => {
    const owner = browser(app);
    await signIn(owner, rows[1]);
    const before = mails.length;
    const thief = browser(app, SAFARI_IPHONE);
    await signIn(thief, rows[1]);
    const alert = mails.slice(before).find((m) => m.to === rows[1].email && /Safari on iOS/.test(m.text));
    const link = /https?:\/\/[^/\s]+(\/account\/sessions\/not-me\?t=[A-Za-z0-9_.-]+)/.exec(alert?.text ?? "")![1];
    // The site's own sign-in form, posted again from the signed-in browser: regenerate, then the account.
    await signIn(thief, rows[1]);
    expect((await thief.get("/")).body.userId).toBe(2);
    const reader = browser(app);
    const page = await reader.get(link);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain("that session has ended already");
    const ended = await reader
      .post("/account/sessions/not-me")
      .type("form")
      .send({ ...csrfFieldsFrom(page.text, "/account/sessions/not-me"), t: new URL(link, "http://x").searchParams.get("t") });
    expect(ended.status).toBe(200);
    expect((await thief.get("/")).body.userId).toBeNull();
    expect((await owner.get("/")).body.userId).toBe(2);
  });

  test("when the site destroys the session with no callback, then the sign-out goes through and nothing throws", async () => {
    const laptop = browser(app);
    await signIn(laptop, rows[0]);
    const before = (await sessions.getUserSessions("1")).length;
    const quit = await laptop.get("/quit");
    expect([quit.status, quit.body]).toEqual([200, { quit: true }]);
    // Without a callback the site does not wait for the end: the store hears of it after the answer.
    for (let i = 0; i < 50 && (await sessions.getUserSessions("1")).length !== before - 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sessions.getUserSessions("1")).toHaveLength(before - 1);
    expect((await laptop.get("/")).body.userId).toBeNull();
  });

  test("when the site's own errors happen (its 404, its CSRF refusal on its own form, a malformed body), then its own error page answers them", async () => {
    const laptop = browser(app);
    await signIn(laptop, rows[0]);
    const missing = await laptop.get("/nowhere");
    expect([missing.status, missing.text]).toEqual([404, "the site's own error page: Not Found"]);
    const refused = await laptop.post("/notes").type("form").send({ _csrf: "made-up" });
    expect([refused.status, refused.text]).toEqual([403, "the site's own error page: EBADCSRFTOKEN"]);
    const malformed = await laptop.post("/notes").set("Content-Type", "application/json").send("{");
    expect([malformed.status, malformed.text]).toEqual([400, "the site's own error page: entity.parse.failed"]);
  });

  test("when an account has no email, then its sign-ins are tracked, its pages and its notices work, and no alert is queued or written", async () => {
    const before = mails.length;
    const [laptop, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
    for (const agent of [laptop, phone]) {
      await signIn(agent, rows[0]);
      expect((await agent.get("/")).status).toBe(200);
    }
    const page = await laptop.get("/account/sessions");
    expect(page.status).toBe(200);
    expect(page.text).toContain("This device");
    const activity = await laptop.get("/account/activity");
    expect(activity.status).toBe(200);
    expect(activity.text).toMatch(/Signed in/);
    expect(mails.length).toBe(before);
    // An account with an email, on the same site: its new device is told.
    const hers = browser(app);
    await signIn(hers, rows[1]);
    await hers.get("/");
    const ofHers = mails.slice(before).filter((m) => m.to === rows[1].email);
    expect(ofHers).toHaveLength(1);
    const [alert] = ofHers;
    // The site gave no setPassword: the mail promises only what its page does.
    expect(alert!.text).toContain("If it was not you, end that session at once here:");
    expect(`${alert!.text}${alert!.html}`).not.toContain("new password");
  });

  test("when the site changes the role of a signed-in person, then at the next refresh the session moves to a new id, stays signed in and says nothing of an ending", async () => {
    const laptop = browser(app);
    await signIn(laptop, rows[1]);
    const before = sentSessionCookie(await laptop.get("/"), "connect.sid");
    rows[1].role = "editor";
    try {
      // The role reaches the session when the account is read again, once per update age.
      clockAhead += 61_000;
      const next = await laptop.get("/");
      expect(next.body).toMatchObject({ userId: 2, message: null });
      expect(cookieOf(next, "connect.sid")).toMatch(/^connect\.sid=s%3A/);
      const page = await laptop.get("/account/sessions");
      expect(page.status).toBe(200);
      expect(page.text).not.toMatch(/signed out|session has ended/i);
      expect(sentSessionCookie(page, "connect.sid")).not.toBe(before);
      expect((await laptop.get("/")).body).toMatchObject({ userId: 2, message: null });
    } finally {
      delete rows[1].role;
    }
  });

  test("when a signed-out visitor asks for the sessions page, then the guard sends them to sign in with ?next= and req.session.returnTo, and the sign-in brings them back", async () => {
    const visitor = browser(app);
    const asked = await visitor.get("/account/sessions");
    expect(asked.status).toBe(303);
    expect(asked.headers.location).toBe("/login?next=%2Faccount%2Fsessions");
    expect((await visitor.get("/where")).body.returnTo).toBe("/account/sessions");
    const back = await signIn(visitor, rows[0]);
    expect(back.headers.location).toBe("/account/sessions");
  });
});

describe("sign-in alerts a site turns off, or sends itself", () => {
  const signInAsGrace = async (sessions: Sessions) => {
    const agent = browser(dropInSite(sessions, "csrf-sync"));
    await signIn(agent, rows[1]);
    expect((await agent.get("/")).body.userId).toBe(2);
  };

  test("when alerts are off, then a new device's sign-in of an account with an email queues nothing", async () => {
    const written: MailMessage[] = [];
    const sessions = createSessions({
      accounts,
      secret,
      env: {},
      alerts: false,
      events: { mailWritten: (m) => written.push(m) },
      userIdOf: (req) => req.session?.userId,
    });
    try {
      await signInAsGrace(sessions);
      expect((await sessions.getUserSessions("2")).length).toBe(1);
      expect(written).toEqual([]);
    } finally {
      await sessions.close();
    }
  });

  test("when the site gives its own sender, then the alert goes to it", async () => {
    const sent: MailMessage[] = [];
    const sessions = createSessions({
      accounts,
      secret,
      env: {},
      mail: { send: async (message) => void sent.push(message) },
      userIdOf: (req) => req.session?.userId,
    });
    try {
      await signInAsGrace(sessions);
      for (let i = 0; i < 40 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(sent.map((m) => m.to)).toEqual([rows[1].email]);
    } finally {
      await sessions.close();
    }
  });
});

describe("the sessions in an app the site mounts", () => {
  test("when the site's own routes after that app leave a visitor a message, then it travels in the message cookie, is shown on the next page once, and nothing is stored", async () => {
    const sessions = createSessions({ accounts, secret, env: {}, alerts: false });
    try {
      const inner = express();
      inner.use(sessions.middleware());
      inner.get("/inner", (req, res) => {
        setFlash(req, "info", "from the mounted app");
        res.redirect(303, "/show");
      });
      const app = express();
      app.use(inner);
      app.get("/outer", (req, res) => {
        setFlash(req, "info", "from the site");
        res.redirect(303, "/show");
      });
      app.get("/show", (_req, res) => res.json({ message: (res.locals.flash as () => { text: string } | null)()?.text ?? null }));
      for (const [path, text] of [
        ["/inner", "from the mounted app"],
        ["/outer", "from the site"],
      ]) {
        const visitor = browser(app);
        const left = await visitor.get(path);
        expect(((left.headers["set-cookie"] as unknown as string[] | undefined) ?? []).some((c) => c.startsWith("flash="))).toBe(true);
        expect((await visitor.get("/show")).body.message).toBe(text);
        expect((await visitor.get("/show")).body.message).toBeNull();
      }
      expect(await new Promise((resolve) => sessions.store.length!((_err, n) => resolve(n)))).toBe(0);
    } finally {
      await sessions.close();
    }
  });
});
