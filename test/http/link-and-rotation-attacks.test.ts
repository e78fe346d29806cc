import { sign } from "cookie-signature";
import express from "express";
import session from "express-session";
import request from "supertest";
import { type AccountSource, ConfigError, createSessions } from "../../src/package/index";
import { logSender, type MailMessage } from "../../src/package/mail/mail-queue";
import { endNamedSession } from "../../src/package/sessions/end-sessions";
import {
  browser,
  CHROME_WINDOWS,
  cookieOf,
  csrfFrom,
  newAccount,
  quietMail,
  SAFARI_IPHONE,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  withTestApp,
} from "../helpers/app";
import { connectTestRedis, testClock, withState } from "../helpers/stores";
import { redisName } from "../helpers/topology";

const kinds = ["embedded", "redis"] as const;
const MINUTE = 60 * 1000;
const PUBLIC_URL = "https://sessions.example.test";

/** The "This wasn't me" link of a mail, as a path on the test app, and its token. */
function notMeLink(text: string): { path: string; token: string } {
  const m = /https:\/\/sessions\.example\.test(\/settings\/sessions\/not-me\?t=([A-Za-z0-9_.-]+))/.exec(text);
  if (!m) throw new Error(`no "This wasn't me" link in:\n${text}`);
  return { path: m[1], token: m[2] };
}

/** The token of the form on a page. */
function formToken(html: string): string {
  const m = /name="t" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no link token on the page");
  return m[1];
}

describe.each(kinds)("mail links that must hold (%s)", (kind) => {
  const name = kind === "redis" ? redisName() : "embedded";

  test(`when the session an alert names has since got a new id by rotation, then "This wasn't me" still finds and ends it, and the notice's button ends it too (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { PUBLIC_URL } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const thief = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(thief, account)).status).toBe(303);
      const link = notMeLink(t.mails.at(-1)!.text);
      // Past the rotation interval: the thief's next request moves the session to a new id.
      clock.advance(16 * MINUTE);
      expect((await thief.get("/dashboard")).status).toBe(200);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const handles = (await t.deps.kit.getUserSessions(user.id)).map((s) => s.handle);

      const page = await laptop.get(link.path);
      expect(page.status).toBe(200);
      expect(page.text).toContain("Safari on iOS");
      expect(page.text).not.toContain("has ended already");
      const ended = await laptop
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: link.token });
      expect(ended.status).toBe(200);
      expect(ended.text).not.toContain("That session has ended already");
      expect((await thief.get("/dashboard")).status).toBe(303);
      const left = (await t.deps.kit.getUserSessions(user.id)).map((s) => s.handle);
      expect(left).toHaveLength(handles.length - 1);
    });
  });

  test(`when the new-sign-in notice is about a session that has rotated since, then its button ends that session (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { PUBLIC_URL } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      clock.advance(1000);
      const thief = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(thief, account)).status).toBe(303);
      clock.advance(16 * MINUTE);
      expect((await thief.get("/dashboard")).status).toBe(200);
      // The rotated session does not show the notice about itself.
      expect((await thief.get("/dashboard")).text).not.toMatch(/New sign-in/i);
      const dashboard = await laptop.get("/dashboard");
      const action = /action="(\/settings\/sessions\/[A-Za-z0-9_-]{22}\/revoke)"/.exec(dashboard.text)?.[1];
      expect(action).toBeDefined();
      const revoked = await laptop
        .post(action!)
        .type("form")
        .send({ _csrf: csrfFrom(dashboard.text), password: account.password });
      expect(revoked.status).toBe(303);
      expect((await thief.get("/dashboard")).status).toBe(303);
    });
  });

  test(`when the password was changed after an alert was sent, then its link changes nothing and offers no new password (${name})`, async () => {
    await withTestApp(kind, { env: { PUBLIC_URL } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const phone = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(phone, account)).status).toBe(303);
      const link = notMeLink(t.mails.at(-1)!.text);
      const changed = await submit(laptop, "/settings/password", "/settings/password", {
        current_password: account.password,
        new_password: "another long passphrase",
      });
      expect(changed.status).toBe(303);

      const page = await request(t.app).get(link.path);
      expect(page.status).toBe(410);
      expect(page.text).toContain("password was changed");
      const reader = request.agent(t.app);
      const form = await reader.get("/login");
      const posted = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(form.text), t: link.token });
      expect(posted.status).toBe(410);
      expect(posted.text).not.toContain("New password");
      expect((await laptop.get("/dashboard")).status).toBe(200);
    });
  });

  test(`when the new-password step is sent twice (or at once), then the password is set once, by the first (${name})`, async () => {
    await withTestApp(kind, { env: { PUBLIC_URL } }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const thief = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(thief, account)).status).toBe(303);
      const link = notMeLink(t.mails.at(-1)!.text);
      const reader = request.agent(t.app);
      const page = await reader.get(link.path);
      const ended = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: link.token });
      const token = formToken(ended.text);
      const send = (password: string) =>
        reader
          .post("/settings/sessions/not-me/password")
          .type("form")
          .send({ _csrf: csrfFrom(ended.text), t: token, password });
      const answers = await Promise.all([send("first new passphrase"), send("second new passphrase")]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 410]);
      const again = await send("third new passphrase");
      expect(again.status).toBe(410);
      expect(again.text).toMatch(/used already|password was changed/);
      const won = answers[0].status === 200 ? "first new passphrase" : "second new passphrase";
      const lost = won === "first new passphrase" ? "second new passphrase" : "first new passphrase";
      for (const [password, status] of [
        [lost, 422],
        ["third new passphrase", 422],
        [won, 303],
      ] as const) {
        const res = await signIn(browser(t.app), { email: account.email, password });
        expect(res.status === 303 ? 303 : 422).toBe(status);
      }
    });
  });
});

describe("mail links, wherever they are stored", () => {
  test("when a link's signature holds a non-ASCII character, then it is refused as not valid, not a server error", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL } }, async (t) => {
      await signUp(browser(t.app));
      const { token } = notMeLink(t.mails.at(-1)!.text);
      const [body, mac] = token.split(".");
      // The same number of characters, more bytes.
      const bent = `${body}.${mac.slice(0, -1)}é`;
      const res = await request(t.app).get(`/settings/sessions/not-me?t=${encodeURIComponent(bent)}`);
      expect(res.status).toBe(400);
      expect(res.text).toContain("not valid");
    });
  });

  test("when a link's page is opened, then no referrer carries its token away, and the request log keeps no token", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL } }, async (t) => {
      const account = await signUp(browser(t.app));
      const { path, token } = notMeLink(t.mails.at(-1)!.text);
      const page = await request(t.app).get(path);
      expect(page.status).toBe(200);
      expect(page.headers["referrer-policy"]).toBe("no-referrer");
      await request(t.app)
        .post("/password/forgot")
        .type("form")
        .send({ _csrf: csrfFrom((await request(t.app).get("/password/forgot")).text), email: account.email });
      await new Promise((r) => setTimeout(r, 50));
      expect(t.logs.join("\n")).toContain("/settings/sessions/not-me");
      expect(t.logs.join("\n")).not.toContain(token.split(".")[1]);
      expect(t.logs.join("\n")).not.toContain("?t=");
    });
  });

  test("when reset mails for one address are asked for from many networks, then at most 3 an hour are sent, and the page answers the same", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL, TRUST_PROXY: "loopback" } }, async (t) => {
      const account = await signUp(browser(t.app));
      const before = t.mails.length;
      const answers: number[] = [];
      for (let i = 0; i < 12; i++) {
        const asker = request.agent(t.app);
        const ip = `203.0.113.${10 + i}`;
        const form = await asker.get("/password/forgot").set("X-Forwarded-For", ip);
        const res = await asker
          .post("/password/forgot")
          .set("X-Forwarded-For", ip)
          .type("form")
          .send({ _csrf: csrfFrom(form.text), email: account.email.toUpperCase() });
        answers.push(res.status);
        expect(res.text).toContain("If an account uses that address");
      }
      expect(new Set(answers)).toEqual(new Set([200]));
      await new Promise((r) => setTimeout(r, 50));
      expect(t.mails.slice(before).filter((m) => m.to === account.email)).toHaveLength(3);
    });
  });

  test("when an account name holds a URL, a line separator or a direction override, then sign-up refuses the controls, and no mail carries the name", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL } }, async (t) => {
      for (const bad of ["Ada\u2028Click here", "Ada \u202Eevil", "Ada\u00ADLovelace", "Ada\u3164", "Ada\u061C"]) {
        const res = await submit(browser(t.app), "/signup", "/signup", { ...newAccount(bad) });
        expect(res.status).toBe(400);
        expect(res.text).toContain("must not contain control or invisible characters");
      }
      const account = newAccount("Visit https://evil.example.test now");
      const laptop = browser(t.app);
      await signUp(laptop, account);
      await signIn(browser(t.app, SAFARI_IPHONE), account);
      await request(t.app)
        .post("/password/forgot")
        .type("form")
        .send({ _csrf: csrfFrom((await request(t.app).get("/password/forgot")).text), email: account.email });
      await new Promise((r) => setTimeout(r, 50));
      const theirs = t.mails.filter((m) => m.to === account.email);
      expect(theirs.length).toBeGreaterThanOrEqual(2);
      for (const mail of theirs) {
        expect(mail.text).not.toContain("evil.example.test");
        expect(mail.html).not.toContain("evil.example.test");
        expect(mail.text.startsWith("Hello,\n")).toBe(true);
      }
    });
  });

  test("when a device's user agent holds format characters of any kind, then its name on the sessions page holds none", async () => {
    await withTestApp("embedded", {}, async (t) => {
      // A header carries Latin-1 only: the soft hyphen and C1 controls are what a user agent can hold.
      const agent = "Mozilla/5.0 (Windows NT 10.0\u00AD\u0085; Win64; x64) Chrome/124.0.0.0 Safari/537.36";
      const laptop = browser(t.app, agent);
      const account = await signUp(laptop);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const [row] = await t.deps.kit.getUserSessions(user.id);
      expect(row.userAgent).not.toMatch(/[\u00AD\u0085]/);
      const named = await submit(laptop, "/settings/sessions", `/settings/sessions/${row.handle}/name`, { name: "Work\u061C\u00AD\u3164\u{E0041} laptop" });
      expect(named.status).toBe(303);
      expect((await t.deps.kit.getUserSessions(user.id))[0].name).toBe("Work laptop");
    });
  });
});

describe.each(kinds)("rotation under attack (%s)", (kind) => {
  const name = kind === "redis" ? redisName() : "embedded";

  test(`when a copied cookie keeps polling across rotations, then it is caught within a few rotations: both are ended and the owner is told (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_ROTATE_INTERVAL: "3", SESSION_ROTATE_GRACE: "2" } }, async (t) => {
      const owner = browser(t.app);
      const account = await signUp(owner);
      // A second browser with a copy of the owner's cookie, polling every 0.9 s; the owner reads a page every 0.5 s.
      let copy = sentSessionCookie(await owner.get("/dashboard"))!;
      let caught = false;
      for (let ms = 100; ms <= 30_000 && !caught; ms += 100) {
        clock.advance(100);
        if (ms % 500 === 0 && (await owner.get("/dashboard")).status !== 200) caught = true;
        if (ms % 900 === 0 && !caught) {
          const seen = await request(t.app).get("/dashboard").set("Cookie", copy);
          if (seen.status !== 200) caught = true;
          copy = cookieOf(seen)?.split(";")[0] ?? copy;
        }
      }
      expect(caught).toBe(true);
      expect((await owner.get("/dashboard")).status).toBe(303);
      expect((await request(t.app).get("/dashboard").set("Cookie", copy)).status).toBe(303);
      const user = (await t.deps.users.findByEmail(account.email))!;
      expect(await t.deps.kit.getUserSessions(user.id)).toHaveLength(0);
      expect(t.mails.some((m) => m.to === account.email && /cookie was copied/.test(m.subject))).toBe(true);
    });
  });

  test(`when a copy in another browser asks before the owner after each rotation, 20 rounds, then it is never handed the new id and is caught every round (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_ROTATE_INTERVAL: "3", SESSION_ROTATE_GRACE: "2" } }, async (t) => {
      let handedOver = 0;
      for (let round = 0; round < 20; round++) {
        const owner = browser(t.app);
        const account = await signUp(owner);
        // The copy polls every 0.9 s from another browser, the owner every 1.3 s: the copy often asks first after a rotation.
        const stolen = sentSessionCookie(await owner.get("/dashboard"))!;
        let copy = stolen;
        let caught = false;
        for (let ms = 100; ms <= 30_000 && !caught; ms += 100) {
          clock.advance(100);
          if (ms % 1300 === 0 && (await owner.get("/dashboard")).status !== 200) caught = true;
          if (ms % 900 === 0 && !caught) {
            const seen = await request(t.app).get("/dashboard").set("Cookie", copy).set("User-Agent", SAFARI_IPHONE);
            if (seen.status !== 200) caught = true;
            const given = cookieOf(seen)?.split(";")[0];
            if (seen.status === 200 && given && given !== copy) {
              handedOver += 1;
              copy = given;
            }
          }
        }
        expect(caught).toBe(true);
        const user = (await t.deps.users.findByEmail(account.email))!;
        expect(await t.deps.kit.getUserSessions(user.id)).toHaveLength(0);
      }
      expect(handedOver).toBe(0);
    });
  });

  test(`when the owner's answer with the new id is lost, then the owner's own browser is handed it; the same cookie from another browser is not (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const owner = browser(t.app);
      await signUp(owner);
      const first = sentSessionCookie(await owner.get("/dashboard"))!;
      clock.advance(16 * MINUTE);
      // The rotation's answer is lost: the owner's browser keeps the old cookie.
      const lost = await request(t.app).get("/dashboard").set("Cookie", first).set("User-Agent", CHROME_WINDOWS);
      expect(lost.status).toBe(200);
      const rotated = cookieOf(lost)!.split(";")[0];
      clock.advance(1000);
      const elsewhere = await request(t.app).get("/dashboard").set("Cookie", first).set("User-Agent", SAFARI_IPHONE);
      expect(cookieOf(elsewhere)?.split(";")[0]).not.toBe(rotated);
      const again = await request(t.app).get("/dashboard").set("Cookie", first).set("User-Agent", CHROME_WINDOWS);
      expect(again.status).toBe(200);
      expect(cookieOf(again)?.split(";")[0]).toBe(rotated);
    });
  });

  test(`when a tab signs out with the previous id within the grace, then the session ends, under its current id too (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const before = sentSessionCookie(await laptop.get("/dashboard"))!;
      const beforePage = await laptop.get("/dashboard");
      clock.advance(16 * MINUTE);
      expect((await laptop.get("/dashboard")).status).toBe(200);
      expect((await laptop.get("/dashboard")).status).toBe(200);
      clock.advance(10 * 1000);
      const out = await request(t.app)
        .post("/logout")
        .set("Cookie", before)
        .type("form")
        .send({ _csrf: csrfFrom(beforePage.text) });
      expect(out.status).toBe(303);
      expect((await laptop.get("/dashboard")).status).toBe(303);
      const user = (await t.deps.users.findByEmail(account.email))!;
      expect(await t.deps.kit.getUserSessions(user.id)).toHaveLength(0);
    });
  });

  test(`when a session moves to a new id between the listing and its end, then it is ended under the new one (${name})`, async () => {
    await withTestApp(kind, {}, async (t) => {
      const store = t.deps.kit.store;
      const account = await signUp(browser(t.app));
      const user = (await t.deps.users.findByEmail(account.email))!;
      const listed = await store.listUserSessions(user.id);
      const [row] = listed;
      // The rotation, done by hand right after the listing: the same series under a new id, the old one ended.
      await store.set(
        "a-rotated-session-id-of-this-browser-1",
        withState({ cookie: { originalMaxAge: null, path: "/", httpOnly: true } }, { userId: user.id, series: row.series, signedInAt: row.createdAt }),
      );
      await store.endUserSession(user.id, row.handle, { reason: "rotated", at: Date.now() });
      let listings = 0;
      const racing = Object.assign(Object.create(store), {
        listUserSessions: async (id: string) => (listings++ === 0 ? listed : store.listUserSessions(id)),
      });
      const ended = await endNamedSession(racing, user.id, row.handle, { reason: "alert", at: Date.now() });
      expect(ended?.series).toBe(row.series);
      expect(ended?.handle).not.toBe(row.handle);
      expect(await store.listUserSessions(user.id)).toHaveLength(0);
    });
  });

  test(`when 20 requests of one browser arrive together at the rotation, 20 times over, then none is signed out (${name})`, async () => {
    const clock = testClock();
    await withTestApp(kind, { clock, env: { SESSION_ROTATE_INTERVAL: "60", SESSION_ROTATE_GRACE: "30" } }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const user = (await t.deps.users.findByEmail(account.email))!;
      for (let round = 0; round < 20; round++) {
        clock.advance(61 * 1000);
        const answers = await Promise.all(Array.from({ length: 20 }, () => laptop.get("/dashboard")));
        expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
        expect(answers.every((a) => !/sid=;/.test(String(a.headers["set-cookie"] ?? "")))).toBe(true);
        expect(await t.deps.kit.getUserSessions(user.id)).toHaveLength(1);
      }
    });
  });
});

describe("the drop-in, when a site signs in without a new id", () => {
  const rows = [{ id: 7, name: "Ada Lovelace", email: "ada@example.com", password: "ada's password" }];
  let failNextLookup = false;
  const accounts: AccountSource = {
    findById: async (id) => {
      if (failNextLookup) {
        failNextLookup = false;
        throw new Error("the site's database did not answer");
      }
      return String(id) === "7" ? { id: "7", name: "Ada Lovelace", email: "ada@example.com" } : null;
    },
    verifyPassword: async (id, password) => String(id) === "7" && password === rows[0].password,
  };
  const secret = "the site's own session secret, long enough";

  /** A site that sets req.session.userId without a regenerate, answering its sign-in as `login` does. */
  async function siteThat(login: express.RequestHandler) {
    const sessions = createSessions({ accounts, secret, userIdOf: (req) => req.session?.userId, env: {}, events: quietMail });
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
    app.use(sessions.track());
    app.post("/cart", (req, res) => {
      req.session.cart = ["tea"];
      res.redirect(303, "/");
    });
    app.post("/login", login);
    app.get("/", (req, res) => res.json({ userId: req.session.userId ?? null }));
    app.use(sessions.errorHandler());
    return { app, sessions };
  }
  const planted = async (app: express.Express) => cookieOf(await request(app).post("/cart"), "connect.sid")!.split(";")[0];

  const answers: Record<string, express.RequestHandler> = {
    "redirects at once": (req, res) => {
      req.session.userId = 7;
      res.redirect(303, "/");
    },
    "saves, then redirects a moment later": (req, res) => {
      req.session.userId = 7;
      req.session.save(() => setTimeout(() => res.redirect(303, "/"), 20));
    },
  };
  for (const [how, login] of Object.entries(answers)) {
    test(`when a visitor's session id was planted before a sign-in that ${how}, then the planted id is never signed in, however the planter polls (20 rounds)`, async () => {
      const { app, sessions } = await siteThat(login);
      try {
        for (let round = 0; round < 20; round++) {
          const plantedId = await planted(app);
          const signingIn = request(app).post("/login").set("Cookie", plantedId);
          // The one who planted it polls all through the sign-in.
          const polls: Promise<request.Response>[] = [];
          const poller = setInterval(() => polls.push(request(app).get("/").set("Cookie", plantedId)), 3);
          const login = await signingIn;
          clearInterval(poller);
          polls.push(request(app).get("/").set("Cookie", plantedId));
          for (const poll of await Promise.all(polls)) expect(poll.body.userId ?? null).toBeNull();
          const given = cookieOf(login, "connect.sid")?.split(";")[0];
          expect(given).toBeDefined();
          expect(given).not.toBe(plantedId);
          expect((await request(app).get("/").set("Cookie", given!)).body.userId).toBe(7);
        }
      } finally {
        await sessions.close();
      }
    });
  }

  test("when the sign-in's response streams before it ends, then the sign-in is stored under no id: the planted one is never signed in", async () => {
    const { app, sessions } = await siteThat((req, res) => {
      req.session.userId = 7;
      res.write("signed in");
      res.end();
    });
    try {
      const plantedId = await planted(app);
      expect((await request(app).post("/login").set("Cookie", plantedId)).status).toBe(200);
      expect((await request(app).get("/").set("Cookie", plantedId)).body.userId).toBeNull();
      expect(await sessions.getUserSessions("7")).toHaveLength(0);
    } finally {
      await sessions.close();
    }
  });

  test("when a session was stored naming an account without being indexed, then whoever brings it first is signed out, not signed in", async () => {
    const { app, sessions } = await siteThat(answers["redirects at once"]);
    try {
      const sid = "a-session-id-the-visitor-was-given-1234";
      await sessions.store.set(sid, { cookie: { originalMaxAge: null, path: "/", httpOnly: true }, userId: 7 } as never);
      const cookie = `connect.sid=${encodeURIComponent(`s:${sign(sid, secret)}`)}`;
      const first = await request(app).get("/").set("Cookie", cookie);
      expect(first.status).toBe(303);
      expect((await request(app).get("/").set("Cookie", cookie)).body.userId).toBeNull();
      expect(await sessions.getUserSessions("7")).toHaveLength(0);
    } finally {
      await sessions.close();
    }
  });

  test("when the site signs in an account the package does not know, then the session keeps its id from then on and is not indexed", async () => {
    const { app, sessions } = await siteThat((req, res) => {
      req.session.userId = 99;
      res.redirect(303, "/");
    });
    try {
      const plantedId = await planted(app);
      const login = await request(app).post("/login").set("Cookie", plantedId);
      const given = cookieOf(login, "connect.sid")!.split(";")[0];
      expect(given).not.toBe(plantedId);
      for (let i = 0; i < 3; i++) {
        const page = await request(app).get("/").set("Cookie", given);
        expect(page.body.userId).toBe(99);
        expect(cookieOf(page, "connect.sid")).toBeUndefined();
      }
      expect(await sessions.getUserSessions("99")).toHaveLength(0);
    } finally {
      await sessions.close();
    }
  });

  test("when the account lookup fails at the sign-in, then the sign-in is still stored under a new id, never the planted one", async () => {
    const { app, sessions } = await siteThat(answers["redirects at once"]);
    try {
      const plantedId = await planted(app);
      failNextLookup = true;
      const login = await request(app).post("/login").set("Cookie", plantedId);
      const given = cookieOf(login, "connect.sid")?.split(";")[0];
      expect(given).toBeDefined();
      expect(given).not.toBe(plantedId);
      expect((await request(app).get("/").set("Cookie", plantedId)).body.userId).toBeNull();
    } finally {
      failNextLookup = false;
      await sessions.close();
    }
  });
});

describe("link tokens and the logs", () => {
  test("when a link's page fails because Redis is gone, then the error log names its path, not its token", async () => {
    await withTestApp("redis", { env: { PUBLIC_URL } }, async (t) => {
      await signUp(browser(t.app));
      const { path, token } = notMeLink(t.mails.at(-1)!.text);
      t.redis!.destroy();
      expect((await request(t.app).get(path)).status).toBe(503);
      await new Promise((r) => setTimeout(r, 50));
      const logged = t.logs.join("\n");
      expect(logged).toContain("/settings/sessions/not-me");
      expect(logged).not.toContain(token.split(".")[1]);
    });
  });

  test("when mail is written to the log in production (no SMTP_URL), then its links carry no token", async () => {
    const written: MailMessage[] = [];
    const message = {
      to: "ada@example.com",
      subject: "New sign-in",
      text: "Open https://x.test/not-me?t=abc.def now",
      html: '<a href="https://x.test/not-me?t=abc.def">end it</a>',
    };
    await logSender((m) => written.push(m), true).send(message);
    await logSender((m) => written.push(m), false).send(message);
    expect(written[0].text).not.toContain("abc.def");
    expect(written[0].html).not.toContain("abc.def");
    expect(written[1].text).toContain("t=abc.def");
  });
});

describe("mail in production", () => {
  test("when a site passes its own mailer in production without PUBLIC_URL, then createSessions says to set it", async () => {
    const redis = await connectTestRedis();
    try {
      const start = (env: Record<string, string>) =>
        (async () =>
          createSessions({
            accounts: { findById: async () => null, verifyPassword: async () => false },
            secret: "a production secret that is long enough for the check",
            redis,
            env: { NODE_ENV: "production", ...env },
            userIdOf: () => undefined,
            mail: { send: async () => {} },
          }))();
      await expect(start({})).rejects.toThrow(ConfigError);
      await expect(start({})).rejects.toThrow(/PUBLIC_URL is required in production when mail is sent/);
      const started = await start({ PUBLIC_URL });
      await started.close();
    } finally {
      await redis.close();
    }
  });
});

declare module "express-session" {
  interface SessionData {
    cart?: string[];
    userId?: number;
  }
}
