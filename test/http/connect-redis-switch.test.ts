import { RedisStore } from "connect-redis";
import signature from "cookie-signature";
import express, { type Express } from "express";
import session, { type Store } from "express-session";
import type { RedisClientType } from "redis";
import request from "supertest";
import { ConfigError, createSessions, type Sessions } from "../../src/package/index";
import { browser, csrfFrom, quietMail, sentSessionCookie } from "../helpers/app";
import { accountsOf, localPassport } from "../helpers/passport";
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

/** The same Passport site before and after the switch: only its session store differs (and track() and the router after it). */
function site(store: Store, sessions?: Sessions): Express {
  const passport = localPassport(rows);
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: 14 * 24 * 3600 * 1000 } }));
  app.use(passport.initialize());
  app.use(passport.session());
  if (sessions) app.use(sessions.track());
  app.post("/login", passport.authenticate("local", { failureRedirect: "/login" }), (req, res) => {
    req.session.cart = ["tea"];
    res.redirect(303, "/");
  });
  app.get("/", (req, res) => res.json({ user: (req.user as Row | undefined)?.name ?? null, cart: req.session.cart ?? [] }));
  if (sessions) {
    app.use("/account", sessions.router());
    app.use(sessions.errorHandler());
  }
  return app;
}

/** The session id a response's request carried in the site's cookie (connect-redis keys its record by it). */
function sidSent(res: object): string {
  const value = decodeURIComponent(sentSessionCookie(res, "connect.sid")!.split("=")[1]);
  return value.slice(2).split(".")[0];
}

/** One address, the site behind it swapped as a deploy would: browsers keep their cookies across the switch. */
function deploy(first: Express) {
  let current = first;
  const front = express();
  front.use((req, res, next) => current(req, res, next));
  const switchTo = (next: Express) => {
    current = next;
  };
  return { front, switchTo };
}

describe(`a site moving from connect-redis (${redisName()})`, () => {
  let client: RedisClientType;
  beforeAll(async () => {
    client = await connectTestRedis();
  });
  afterAll(async () => client.close());

  const switched = (prefix: string, legacyPrefix: string) =>
    createSessions({
      accounts,
      secret,
      redis: client,
      keyPrefix: `${prefix}new:`,
      userIdOf: (req) => (req.user as Row | undefined)?.id,
      legacy: { prefix: legacyPrefix },
      events: quietMail,
    });

  test("when the site swaps connect-redis for the package's store with `legacy`, then every browser stays signed in, is listed and can be signed out, and connect-redis's keys are gone", async () => {
    const prefix = uniquePrefix();
    const legacyPrefix = `${prefix}sess:`;
    const { front, switchTo } = deploy(site(new RedisStore({ client, prefix: legacyPrefix })));
    const [laptop, phone] = [browser(front), browser(front)];
    const legacyKeys: string[] = [];
    for (const agent of [laptop, phone]) {
      expect((await agent.post("/login").type("form").send({ email: rows[0].email, password: rows[0].password })).status).toBe(303);
      const res = await agent.get("/");
      expect(res.body).toEqual({ user: "Ada Lovelace", cart: ["tea"] });
      legacyKeys.push(`${legacyPrefix}${sidSent(res)}`);
    }
    // A key per key: on a Cluster they live in different slots.
    const stillThere = async () => (await Promise.all(legacyKeys.map((k) => client.exists(k)))).reduce((a, b) => a + b, 0);
    expect(await stillThere()).toBe(2);

    // The switch: the same secret and cookie, the package's store reading connect-redis's records.
    const sessions = await switched(prefix, legacyPrefix);
    try {
      switchTo(site(sessions.store, sessions));
      for (const agent of [laptop, phone]) {
        const res = await agent.get("/");
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ user: "Ada Lovelace", cart: ["tea"] });
      }
      expect(await stillThere()).toBe(0);
      expect(await sessions.getUserSessions("41")).toHaveLength(2);
      const page = await laptop.get("/account/sessions");
      expect(page.status).toBe(200);
      const other = [...page.text.matchAll(/action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map((m) => m[1]);
      expect(other).toHaveLength(1);
      const ended = await laptop
        .post(`/account/sessions/${other[0]}/revoke`)
        .type("form")
        .send({ _csrf: csrfFrom(page.text), password: rows[0].password });
      expect(ended.status).toBe(303);
      expect((await phone.get("/")).body.user).toBeNull();
      expect((await laptop.get("/")).body).toEqual({ user: "Ada Lovelace", cart: ["tea"] });
      expect(await sessions.getUserSessions("41")).toHaveLength(1);
      expect(await stillThere()).toBe(0);
    } finally {
      await sessions.close();
    }
  });

  test("when two first requests of a moved browser arrive at once, then its session is moved and indexed once", async () => {
    const prefix = uniquePrefix();
    const legacyPrefix = `${prefix}sess:`;
    const { front, switchTo } = deploy(site(new RedisStore({ client, prefix: legacyPrefix })));
    const laptop = browser(front);
    await laptop.post("/login").type("form").send({ email: rows[0].email, password: rows[0].password });
    const legacyKey = `${legacyPrefix}${sidSent(await laptop.get("/"))}`;
    expect(await client.exists(legacyKey)).toBe(1);
    const sessions = await switched(prefix, legacyPrefix);
    try {
      switchTo(site(sessions.store, sessions));
      const answers = await Promise.all([laptop.get("/"), laptop.get("/")]);
      expect(answers.map((a) => a.body.user)).toEqual(["Ada Lovelace", "Ada Lovelace"]);
      expect(await sessions.getUserSessions("41")).toHaveLength(1);
      expect(await client.exists(legacyKey)).toBe(0);
    } finally {
      await sessions.close();
    }
  });

  test("when a cookie names a key under connect-redis's prefix that is no session of its, then the browser is a visitor and the key stays", async () => {
    const prefix = uniquePrefix();
    const legacyPrefix = `${prefix}sess:`;
    const notSessions = ["a-sorted-set", "not-json", "an-array"];
    await client.zAdd(`${legacyPrefix}a-sorted-set`, { score: 1, value: "x" });
    await client.set(`${legacyPrefix}not-json`, "{ not json");
    await client.set(`${legacyPrefix}an-array`, "[1,2]");
    const sessions = await switched(prefix, legacyPrefix);
    try {
      const app = site(sessions.store, sessions);
      for (const id of notSessions) {
        const cookie = `connect.sid=${encodeURIComponent(`s:${signature.sign(id, secret)}`)}`;
        const res = await request(app).get("/").set("Cookie", cookie);
        expect({ id, status: res.status, user: res.body.user }).toEqual({ id, status: 200, user: null });
      }
      expect(await client.type(`${legacyPrefix}a-sorted-set`)).toBe("zset");
      expect(await client.get(`${legacyPrefix}not-json`)).toBe("{ not json");
      expect(await client.get(`${legacyPrefix}an-array`)).toBe("[1,2]");
    } finally {
      for (const id of notSessions) await client.del(`${legacyPrefix}${id}`);
      await sessions.close();
    }
  });

  test("when `legacy` is given without userIdOf, then createSessions says what it needs", () => {
    expect(() => createSessions({ accounts, secret, redis: client, legacy: {}, events: quietMail })).toThrow(ConfigError);
  });
});

declare module "express-session" {
  interface SessionData {
    cart?: string[];
  }
}
