import { IncomingMessage } from "node:http";
import type { Express, Request } from "express";
// Passport 0.4 as many sites still run it (sign-in without a new session, a synchronous
// req.logOut()), installed under another name beside the current release; @types/passport
// describes only the current one.
// @ts-expect-error: no types of its own
import { Passport as Passport04 } from "passport-0.4";
import type { RedisClientType } from "redis";
import { createSessions, type Sessions } from "../../src/package/index";
import { browser, quietMail } from "../helpers/app";
import { accountsOf, passportSite, type SiteRow } from "../helpers/passport";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";

// Requiring Passport 0.4 puts its req.logIn/logOut on Node's http.IncomingMessage.prototype,
// which the test files of this process share: Passport 0.7's initialize() then keeps 0.4's
// logOut() (no callback) for every later site. Taken off again once this file is done.
const PATCHED_BY_PASSPORT_04 = ["login", "logIn", "logout", "logOut", "isAuthenticated", "isUnauthenticated"];
afterAll(() => {
  for (const name of PATCHED_BY_PASSPORT_04) delete (IncomingMessage.prototype as unknown as Record<string, unknown>)[name];
});

const rows: SiteRow[] = [{ id: 7, name: "Ada Lovelace", email: "ada@example.com", password: "ada's password" }];
const secret = "the Passport 0.4 site's own session secret";

/** Passport 0.4's sign-out: synchronous, no callback; it deletes Passport's key and keeps the session. */
const logOut = (req: Request) => (req as unknown as { logOut(): void }).logOut();

/** A site on Passport 0.4: its own session(), passport-local, and the package dropped in. */
function passport04Site(sessions: Sessions): Express {
  const { app, passport } = passportSite(sessions, rows, secret, Passport04);
  app.post("/login", passport.authenticate("local", { failureRedirect: "/login" }), (_req, res) => res.redirect(303, "/"));
  // As Passport 0.4's README has it.
  app.post("/logout", (req, res) => {
    logOut(req);
    res.redirect(303, "/");
  });
  // The same, with the session regenerated after it: ended at once.
  app.post("/logout-now", (req, res, next) => {
    logOut(req);
    req.session.regenerate((err) => (err ? next(err) : res.redirect(303, "/")));
  });
  app.get("/", (req, res) => res.json({ user: (req.user as SiteRow | undefined)?.id ?? null }));
  app.use(sessions.errorHandler());
  return app;
}

describe("a site on Passport 0.4, which signs in without a new session and signs out with a synchronous req.logOut()", () => {
  let client: RedisClientType;
  let sessions: Sessions;
  let app: Express;
  beforeAll(async () => {
    client = await connectTestRedis();
    sessions = createSessions({
      accounts: accountsOf(rows),
      secret,
      redis: client,
      keyPrefix: uniquePrefix(),
      env: {},
      events: quietMail,
      userIdOf: (req) => (req.user as SiteRow | undefined)?.id,
    });
    app = passport04Site(sessions);
  });
  afterAll(async () => {
    await sessions.close();
    await client.close();
  });

  async function signIn() {
    const laptop = browser(app);
    await laptop.get("/");
    const signedIn = await laptop.post("/login").type("form").send({ email: rows[0].email, password: rows[0].password });
    expect(signedIn.status).toBe(303);
    expect((await laptop.get("/")).body.user).toBe(7);
    return { laptop };
  }

  test("when a person signs in, then the session is listed under the account at once", async () => {
    const before = (await sessions.getUserSessions("7")).length;
    await signIn();
    expect(await sessions.getUserSessions("7")).toHaveLength(before + 1);
  });

  test("when the site signs out with req.logOut(), then at the browser's next request the session leaves the list and the activity says so", async () => {
    const { laptop } = await signIn();
    const listed = (await sessions.getUserSessions("7")).length;
    expect((await laptop.post("/logout")).status).toBe(303);
    expect((await laptop.get("/")).body.user).toBeNull();
    expect(await sessions.getUserSessions("7")).toHaveLength(listed - 1);
    expect((await sessions.activity.list("7", { limit: 1 })).entries[0].type).toBe("signed_out");
  });

  test("when the site regenerates the session after req.logOut(), then the session leaves the list at once", async () => {
    const { laptop } = await signIn();
    const listed = (await sessions.getUserSessions("7")).length;
    expect((await laptop.post("/logout-now")).status).toBe(303);
    expect(await sessions.getUserSessions("7")).toHaveLength(listed - 1);
    expect((await sessions.activity.list("7", { limit: 1 })).entries[0].type).toBe("signed_out");
  });
});
