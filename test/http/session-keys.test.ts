import express from "express";
import type { RedisClientType } from "redis";
import { createSessions, type Sessions } from "../../src/package/index";
import { browser, csrfFrom, quietMail } from "../helpers/app";
import { accountsOf, passportSite } from "../helpers/passport";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";
import { redisName, topology } from "../helpers/topology";

const row = { id: 5, name: "Ada Lovelace", email: "ada@example.com", password: "ada's password" };
const accounts = accountsOf([row]);
const secret = "the site's own session secret, long enough";

const kinds = topology() === "single" ? ["embedded", redisName()] : [redisName()];

describe.each(kinds)("the session is the site's (%s)", (kind) => {
  let client: RedisClientType | undefined;
  beforeAll(async () => {
    if (kind !== "embedded") client = await connectTestRedis();
  });
  afterAll(async () => client?.close());

  test("when a Passport site signs in through the drop-in, then req.session holds only the site's keys and its cookie, on every request", async () => {
    const sessions = await createSessions({
      accounts,
      secret,
      redis: client,
      keyPrefix: uniquePrefix(),
      userIdOf: (req) => (req.user as typeof row | undefined)?.id,
      events: quietMail,
    });
    try {
      const { app, passport } = passportSite(sessions, [row], secret);
      app.post("/login", passport.authenticate("local"), (req, res) => {
        req.session.cart = ["tea"];
        res.redirect(303, "/");
      });
      app.get("/", (req, res) => res.type("json").send(JSON.stringify(req.session)));
      app.use("/account", sessions.router());
      app.use(sessions.errorHandler());

      const laptop = browser(app);
      expect((await laptop.post("/login").type("form").send({ email: row.email, password: row.password })).status).toBe(303);
      for (let i = 0; i < 2; i++) {
        const seen = JSON.parse((await laptop.get("/")).text) as Record<string, unknown>;
        expect(Object.keys(seen).sort()).toEqual(["cart", "cookie", "passport"]);
        expect(seen.passport).toEqual({ user: 5 });
      }
      // The package's pages work all the same: listed, named, its forms checked.
      const page = await laptop.get("/account/sessions");
      expect(page.text).toContain("This device");
      const handle = /action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/name"/.exec(page.text)![1];
      expect(
        (
          await laptop
            .post(`/account/sessions/${handle}/name`)
            .type("form")
            .send({ _csrf: csrfFrom(page.text), name: "Laptop" })
        ).status,
      ).toBe(303);
      expect((await sessions.getUserSessions("5"))[0].name).toBe("Laptop");
      expect(Object.keys(JSON.parse((await laptop.get("/")).text)).sort()).toEqual(["cart", "cookie", "passport"]);
    } finally {
      await (sessions as Sessions).close();
    }
  });

  test("when a site lets the package sign people in, then req.session holds nothing but the cookie", async () => {
    const sessions = await createSessions({ accounts, secret, redis: client, keyPrefix: uniquePrefix(), events: quietMail });
    try {
      const app = express();
      app.use(express.urlencoded({ extended: false }));
      app.use(sessions.middleware());
      app.get("/login", (_req, res) => res.send(`<input type="hidden" name="_csrf" value="${res.locals.csrfToken()}">`));
      app.post("/login", async (req, res, next) => {
        try {
          await sessions.signIn(req, (await accounts.findById("5"))!);
          res.redirect(303, "/");
        } catch (err) {
          next(err);
        }
      });
      app.get("/", sessions.requireAuth, (req, res) => res.type("json").send(JSON.stringify(req.session)));
      app.use(sessions.errorHandler());
      const laptop = browser(app);
      const form = await laptop.get("/login");
      expect(
        (
          await laptop
            .post("/login")
            .type("form")
            .send({ _csrf: csrfFrom(form.text) })
        ).status,
      ).toBe(303);
      const seen = await laptop.get("/");
      expect(seen.status).toBe(200);
      expect(Object.keys(JSON.parse(seen.text))).toEqual(["cookie"]);
    } finally {
      await sessions.close();
    }
  });
});

declare module "express-session" {
  interface SessionData {
    cart?: string[];
  }
}
