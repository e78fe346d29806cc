import cookieParser from "cookie-parser";
import { doubleCsrf } from "csrf-csrf";
import { csrfSync } from "csrf-sync";
import csurf from "csurf";
import express, { type Express, type RequestHandler } from "express";
import session from "express-session";
import express4 from "express4";
import lusca from "lusca";
import type { RedisClientType } from "redis";
import { type AccountSource, createSessions, type Sessions } from "../../src/package/index";
import { type Agent, browser, csrfFieldsFrom, SAFARI_IPHONE } from "../helpers/app";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";

declare module "express-session" {
  interface SessionData {
    userId?: number;
  }
}

/**
 * The package's forms and API behind a site's own CSRF middleware, of every kind and however
 * the site set it up: the package never takes a state change that no check verified, whether
 * the site's check ran, skipped the package's paths, or was only a `req.csrfToken` helper.
 */
const ada = { id: "1", name: "Ada Lovelace", password: "ada's password" };
const accounts: AccountSource = {
  findById: async (id) => (id === ada.id ? { id: ada.id, name: ada.name } : null),
  verifyPassword: async (id, password) => id === ada.id && password === ada.password,
};
const secret = "the site's own CSRF tests' session secret";
const skipsPackage = (path: string) => path.startsWith("/api/") || path.startsWith("/account/");

/** How the site checks CSRF: its middleware before the package's routes, or after them. */
interface SiteCsrf {
  before?: () => RequestHandler;
  after?: () => RequestHandler;
  /** The site's check refuses a request with no token on the package's routes (it is not skipped there). */
  guardsPackage: boolean;
}
const kinds: Record<string, SiteCsrf> = {
  "csurf on every route": { before: () => csurf(), guardsPackage: true },
  "csurf ignoring POST (ignoreMethods)": { before: () => csurf({ ignoreMethods: ["GET", "HEAD", "OPTIONS", "POST"] }), guardsPackage: false },
  "csurf mounted after the package's routes": { after: () => csurf(), guardsPackage: false },
  "csrf-sync skipping the package's paths": {
    before: () =>
      csrfSync({
        getTokenFromRequest: (req) => (req.body?._csrf as string | undefined) ?? (req.headers["x-csrf-token"] as string | undefined),
        skipCsrfProtection: (req) => skipsPackage(req.path),
      }).csrfSynchronisedProtection,
    guardsPackage: false,
  },
  "csrf-csrf skipping the package's paths": {
    // csrf-csrf reads its cookie from cookie-parser's req.cookies, as its README sets it up.
    before: () => {
      const parse = cookieParser();
      const check = doubleCsrf({
        getSecret: () => secret,
        getSessionIdentifier: (req) => req.session.id,
        cookieName: "site-csrf",
        cookieOptions: { secure: false },
        getCsrfTokenFromRequest: (req) => req.body?._csrf,
        skipCsrfProtection: (req) => skipsPackage(req.path),
      }).doubleCsrfProtection;
      return (req, res, next) => parse(req, res, () => check(req, res, next));
    },
    guardsPackage: false,
  },
  "lusca on every route": { before: () => lusca.csrf(), guardsPackage: true },
  "a helper of the site's that checks nothing": {
    before: () => (req, _res, next) => {
      (req as { csrfToken?: () => string }).csrfToken = () => "the site's token";
      next();
    },
    guardsPackage: false,
  },
};

type Framework = { name: string; make: () => Express; urlencoded: typeof express.urlencoded; json: typeof express.json };
const frameworks: Framework[] = [
  { name: "Express 4", make: () => express4() as unknown as Express, urlencoded: express4.urlencoded, json: express4.json },
  { name: "Express 5", make: () => express(), urlencoded: express.urlencoded, json: express.json },
];

function site(sessions: Sessions, framework: Framework, csrf: SiteCsrf): Express {
  const app = framework.make();
  app.use(framework.urlencoded({ extended: false }));
  app.use(framework.json());
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
  app.use(sessions.track());
  // The test's sign-in, ahead of the site's check: what is under test is the package's routes.
  app.post("/test-sign-in", (req, res, next) =>
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = Number(ada.id);
      res.redirect(303, "/");
    }),
  );
  if (csrf.before) app.use(csrf.before());
  app.get("/", (req, res) => res.json({ userId: req.session.userId ?? null, siteToken: (req as { csrfToken?: () => string }).csrfToken?.() ?? null }));
  app.use("/account", sessions.router());
  app.use("/api", sessions.apiRouter());
  if (csrf.after) app.use(csrf.after());
  app.use(sessions.errorHandler());
  app.use(((err, _req, res, _next) => {
    // lusca sets the status on the response and passes a plain Error.
    res.status(err.status ?? (res.statusCode >= 400 ? res.statusCode : 500)).send(`the site's own error page: ${err.code ?? err.message}`);
  }) as express.ErrorRequestHandler);
  return app;
}

async function signIn(agent: Agent): Promise<void> {
  expect((await agent.post("/test-sign-in")).status).toBe(303);
  expect((await agent.get("/")).body.userId).toBe(1);
}

let client: RedisClientType;
beforeAll(async () => {
  client = await connectTestRedis();
});
afterAll(async () => {
  await client.close();
});

describe.each(frameworks)("$name", (framework) => {
  describe.each(Object.entries(kinds))("a site with %s", (_name, csrf) => {
    let sessions: Sessions;
    let app: Express;
    beforeAll(() => {
      sessions = createSessions({ accounts, secret, redis: client, keyPrefix: uniquePrefix(), env: {}, alerts: false, userIdOf: (req) => req.session?.userId });
      app = site(sessions, framework, csrf);
    });
    afterAll(() => sessions.close());

    test("when a cross-site form posts to the sessions page with no token (five wrong passwords, or none), then each is refused with 403 and nobody is signed out", async () => {
      const [victim, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
      for (const agent of [victim, phone]) await signIn(agent);
      const handles = (await sessions.getUserSessions(ada.id)).map((s) => s.handle);
      for (const fields of [{}, ...Array.from({ length: 5 }, (_, i) => ({ password: `wrong ${i}` }))]) {
        const forged = await victim.post("/account/sessions/revoke-others").type("form").send(fields);
        expect(forged.status).toBe(403);
      }
      for (const handle of handles) {
        const forged = await victim.post(`/account/sessions/${handle}/revoke`).type("form").send({});
        expect(forged.status).toBe(403);
      }
      expect((await victim.get("/")).body.userId).toBe(1);
      expect((await phone.get("/")).body.userId).toBe(1);
      // The site's check, where it ran, refused first; otherwise the package's own did.
      const refused = await victim.post("/account/sessions/revoke-others").type("form").send({});
      expect(refused.text).toMatch(
        csrf.guardsPackage ? /the site's own error page: (EBADCSRFTOKEN|CSRF token missing)/ : /This form has expired or did not come from this site/,
      );
    });

    test("when a cross-site script posts to the API with no token, or with only the site's, then it is refused with 403 and nobody is signed out", async () => {
      const [victim, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
      for (const agent of [victim, phone]) await signIn(agent);
      expect((await victim.post("/api/sessions/revoke-others").send({})).status).toBe(403);
      const siteToken = (await victim.get("/")).body.siteToken as string | null;
      if (siteToken) expect((await victim.post("/api/sessions/revoke-others").set("X-CSRF-Token", siteToken).send({})).status).toBe(403);
      expect((await phone.get("/")).body.userId).toBe(1);
    });

    test("when the person uses the sessions page's form, or a script sends the package's token, then it works", async () => {
      const [laptop, phone] = [browser(app), browser(app, SAFARI_IPHONE)];
      for (const agent of [laptop, phone]) await signIn(agent);
      const page = await laptop.get("/account/sessions");
      expect(page.status).toBe(200);
      const fields = csrfFieldsFrom(page.text, "/account/sessions/revoke-others");
      const ended = await laptop
        .post("/account/sessions/revoke-others")
        .type("form")
        .send({ ...fields, password: ada.password });
      expect(ended.status).toBe(303);
      expect((await phone.get("/")).body.userId).toBeNull();
      // The API: the package's token from its GET, the site's (if any) beside it.
      await signIn(phone);
      const own = (await laptop.get("/api/sessions")).body.csrfToken as string;
      const siteToken = (await laptop.get("/")).body.siteToken as string | null;
      const script = laptop.post("/api/sessions/revoke-others").set("X-Sessions-CSRF-Token", own);
      const done = await (siteToken ? script.set("X-CSRF-Token", siteToken) : script).send({ password: ada.password });
      expect(done.status).toBe(200);
      expect((await phone.get("/")).body.userId).toBeNull();
    });
  });
});
