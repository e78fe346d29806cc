import { request as httpRequest } from "node:http";
import request from "supertest";
import {
  type BackendKind,
  browser,
  cookieOf,
  createTestApp,
  csrfFrom,
  finishSignUp,
  listen,
  newAccount,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  useTestApp,
} from "../helpers/app";

/** The path of a sign-up mail's link. */
function signUpPath(text: string): string {
  const m = /https?:\/\/[^/\s]+(\/signup\/confirm\?t=[A-Za-z0-9_.-]+)/.exec(text);
  if (!m) throw new Error(`no sign-up link in:\n${text}`);
  return m[1];
}

import { testClock } from "../helpers/stores";
import { backendKinds, testRedisEnv } from "../helpers/topology";

describe.each<BackendKind>(backendKinds())("accounts and sign-in (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when a visitor opens the landing page, then it links to sign in and sign up", async () => {
    const res = await request(ctx().app).get("/");
    expect(res.status).toBe(200);
    expect(res.text).toContain('href="/login"');
    expect(res.text).toContain('href="/signup"');
    expect(res.text).not.toContain("<script");
  });

  test("when someone signs up, then a mail's link finishes the account and signs them in on the dashboard with a safe cookie that ends with the browser", async () => {
    const agent = browser(ctx().app);
    const account = newAccount("Grace Hopper");
    const res = await submit(agent, "/signup", "/signup", account);
    expect([res.status, res.headers.location]).toEqual([303, "/signup/sent"]);
    expect(cookieOf(res)).toBeUndefined();
    expect((await agent.get("/signup/sent")).text).toContain("Check your mail");
    // Not signed in, and the password alone does not sign in until the address is confirmed.
    expect((await agent.get("/dashboard")).status).toBe(303);
    const early = await signIn(browser(ctx().app), account);
    expect(early.status).toBe(403);
    expect(early.text).toContain("Confirm your email address first");
    const mails = ctx().mails.filter((m) => m.to === account.email && m.subject === "Finish creating your account");
    // Two: the sign-up's, and the one the early sign-in sent again; the newest works.
    expect(mails).toHaveLength(2);
    const link = signUpPath(mails[1].text);
    // Opening it changes nothing (mail scanners open links): its button does.
    expect((await request(ctx().app).get(link)).text).toContain("Finish creating my account");
    const done = await finishSignUp(agent, link, account.password);
    expect([done.status, done.headers.location]).toEqual([303, "/dashboard"]);
    const cookie = cookieOf(done)!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Expires=/);
    const dash = await agent.get("/dashboard");
    expect(dash.status).toBe(200);
    expect(dash.text).toContain("Signed in as <strong>Grace Hopper</strong>");
    expect(dash.text).toContain("Welcome, Grace Hopper");
    expect(dash.headers["cache-control"]).toBe("no-store, no-cache");
    // Once: the same link again is refused.
    expect((await finishSignUp(browser(ctx().app), link, account.password)).status).toBe(410);
  });

  test("when the email is taken (in another case), then sign-up answers exactly as for a new address, the owner is told by mail, and nothing changes", async () => {
    const account = await signUp(browser(ctx().app));
    const taken = await submit(browser(ctx().app), "/signup", "/signup", { ...account, email: account.email.toUpperCase(), password: "another pass phrase" });
    const fresh = await submit(browser(ctx().app), "/signup", "/signup", newAccount());
    const shape = (res: request.Response) => ({
      status: res.status,
      location: res.headers.location,
      body: res.text,
      cookies: ((res.headers["set-cookie"] as unknown as string[] | undefined) ?? []).map((c) => c.split("=")[0]).sort(),
    });
    expect(shape(taken)).toEqual(shape(fresh));
    const told = ctx().mails.filter((m) => m.to === account.email && m.subject === "You already have an account");
    expect(told).toHaveLength(1);
    expect(told[0].text).toContain("/password/forgot");
    expect(told[0].text).not.toContain("/signup/confirm");
    // The account keeps its password; the sign-up's does not sign in.
    expect((await signIn(browser(ctx().app), account)).status).toBe(303);
    expect((await signIn(browser(ctx().app), { email: account.email, password: "another pass phrase" })).status).toBe(422);
  });

  test("when someone makes an account with another person's address before they do, then the owner's sign-up takes it over and the first one's link and password are void", async () => {
    const victim = newAccount("Ada Lovelace");
    const attacker = { ...victim, name: "Mallory", password: "mallory's pass phrase" };
    await submit(browser(ctx().app), "/signup", "/signup", attacker);
    const first = signUpPath(
      ctx()
        .mails.filter((m) => m.to === victim.email)
        .at(-1)!.text,
    );
    await submit(browser(ctx().app), "/signup", "/signup", victim);
    const second = signUpPath(
      ctx()
        .mails.filter((m) => m.to === victim.email)
        .at(-1)!.text,
    );
    expect(second).not.toBe(first);
    expect((await finishSignUp(browser(ctx().app), first, attacker.password)).status).toBe(410);
    const owner = browser(ctx().app);
    expect((await finishSignUp(owner, second, victim.password)).status).toBe(303);
    expect((await owner.get("/dashboard")).text).toContain("Signed in as <strong>Ada Lovelace</strong>");
    expect((await signIn(browser(ctx().app), attacker)).status).toBe(422);
  });

  test("when sign-up fields are invalid, then the form comes back with a message next to each field", async () => {
    const res = await submit(browser(ctx().app), "/signup", "/signup", { name: "", email: "not-an-email", password: "short" });
    expect(res.status).toBe(400);
    expect(res.text).toContain('id="name-error"');
    expect(res.text).toContain('id="email-error"');
    expect(res.text).toContain('id="password-error"');
    expect(res.text).toContain('value="not-an-email"');
  });

  test.each(["password", "12345678", "Trustno1"])(
    "when someone signs up with the common password %s, then it is refused with the reason and no account is made",
    async (common) => {
      const account = { ...newAccount(), password: common };
      const res = await submit(browser(ctx().app), "/signup", "/signup", account);
      expect(res.status).toBe(400);
      expect(res.text).toContain("This is one of the most common passwords, which attackers try first.");
      expect(res.text).toContain('id="password-error"');
      expect(res.text).toContain(`value="${account.email}"`);
      expect(await ctx().deps.users.findByEmail(account.email)).toBeNull();
    },
  );

  test("when the password or the email is wrong, then sign-in answers 422 (shown at once, no challenge needed) with one generic message", async () => {
    const account = await signUp(browser(ctx().app));
    const wrongPassword = await signIn(browser(ctx().app), { email: account.email, password: "wrong password!" });
    const wrongEmail = await signIn(browser(ctx().app), { email: `nobody-${account.email}`, password: account.password });
    for (const res of [wrongPassword, wrongEmail]) {
      expect(res.status).toBe(422);
      // A 401 would need a challenge; this answer is a form, and carries none.
      expect(res.headers["www-authenticate"]).toBeUndefined();
      expect(res.text).toContain("That email and password do not match an account.");
      expect(res.text).not.toContain(account.password);
    }
  });

  test("when someone with a visitor's session signs in, then the session gets a new id and the visitor's session ends", async () => {
    const account = await signUp(browser(ctx().app));
    // A visitor's session: what a browser keeps after its session was ended elsewhere (its message).
    const agent = browser(ctx().app);
    await signIn(agent, account);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    await ctx().deps.users.update(user.id, { newCredentials: true });
    await ctx().deps.kit.accountChanged(user.id);
    const ended = await agent.get("/dashboard");
    const before = cookieOf(ended)!.split(";")[0];
    expect((await agent.get("/login")).text).toContain("Your session has ended");
    const res = await signIn(agent, { email: account.email.toUpperCase(), password: account.password });
    expect(res.status).toBe(303);
    const after = cookieOf(res)!.split(";")[0];
    expect(after).not.toBe(before);
    // The visitor's cookie no longer names a session.
    const replay = await request(ctx().app).get("/settings/sessions").set("Cookie", before);
    expect(replay.status).toBe(303);
  });

  test("when 'remember me' is checked, then the cookie outlives the browser", async () => {
    const account = await signUp(browser(ctx().app));
    const res = await signIn(browser(ctx().app), account, { remember: "1" });
    expect(cookieOf(res)).toMatch(/Expires=/);
  });

  test.each([
    ["/settings/sessions", "/settings/sessions"],
    ["//evil.example", "/dashboard"],
    ["/\\evil.example", "/dashboard"],
    ["https://evil.example/", "/dashboard"],
    ["/%2F%2Fevil.example", "/dashboard"],
    ["/%5Cevil.example", "/dashboard"],
    ["/.//evil.example", "/dashboard"],
    ["/%2e%2e//evil.example", "/dashboard"],
    ["/a/..//evil.example", "/dashboard"],
  ])("when sign-in carries next=%s, then it lands on %s", async (next, landing) => {
    const account = await signUp(browser(ctx().app));
    const res = await signIn(browser(ctx().app), account, { next });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(landing);
  });

  test.each(["/.//evil.example", "/%2e%2e//evil.example", "/a/..//evil.example"])(
    "when a signed-in person opens /login?next=%s, then they stay on this site",
    async (next) => {
      const agent = browser(ctx().app);
      await signUp(agent);
      const res = await agent.get(`/login?next=${next}`);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/dashboard");
    },
  );

  test("when a signed-out visitor asks for a signed-in page, then they go to sign-in and come back after", async () => {
    const agent = browser(ctx().app);
    const res = await agent.get("/settings/sessions");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?next=%2Fsettings%2Fsessions");
    const page = await agent.get(res.headers.location);
    expect(page.text).toContain('name="next" value="/settings/sessions"');
    const api = await request(ctx().app).get("/api/me");
    expect(api.status).toBe(401);
    expect(api.body).toMatchObject({ error: "not_signed_in" });
  });

  test("when someone signs out, then the session ends on the server and the cookie is cleared", async () => {
    const agent = browser(ctx().app);
    await signUp(agent);
    const oldCookie = sentSessionCookie(await agent.get("/dashboard"))!;
    expect((await agent.get("/dashboard")).text).toContain("Sign out");
    const res = await submit(agent, "/dashboard", "/logout", {});
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?signed-out");
    expect(res.headers["clear-site-data"]).toBe('"cookies"');
    // No header keeps a browser's Back from showing its own copy of a page: the sign-in page says what to do.
    const signedOut = await agent.get(res.headers.location);
    expect(signedOut.text).toContain("On a shared or public computer, quit the browser now");
    expect((await agent.get("/login")).text).not.toContain("quit the browser");
    expect(cookieOf(res)).toMatch(/Expires=Thu, 01 Jan 1970/);
    const replay = await request(ctx().app).get("/dashboard").set("Cookie", oldCookie);
    expect(replay.status).toBe(303);
  });
});

describe("in production", () => {
  test("when served over HTTPS behind a trusted proxy, then the cookie is __Host-sid, Secure, and HSTS lasts a year", async () => {
    const t = await createTestApp("redis", {
      env: { NODE_ENV: "production", ...testRedisEnv(), TRUST_PROXY: "1" },
    });
    try {
      const https = (req: request.Test) => req.set("X-Forwarded-Proto", "https");
      const landing = await https(request(t.app).get("/"));
      expect(landing.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
      // supertest's cookie jar holds back Secure cookies over plain HTTP, so carry it by hand.
      // The sign-up form stores no session: its token is in a cookie of its own.
      const form = await https(request(t.app).get("/signup"));
      expect(cookieOf(form, "__Host-sid")).toBeUndefined();
      const csrf = cookieOf(form, "__Host-csrf")!;
      for (const flag of [/; Secure/, /HttpOnly/, /SameSite=Strict/, /Path=\//]) expect(csrf).toMatch(flag);
      expect(csrf).not.toMatch(/Domain=/);
      expect(csrf).toMatch(/Max-Age=7200/);
      const account = newAccount();
      const sent = await https(request(t.app).post("/signup"))
        .set("Cookie", csrf.split(";")[0])
        .type("form")
        .send({ _csrf: csrfFrom(form.text), ...account });
      expect(sent.status).toBe(303);
      // In production a mail written to the log holds no link: the link its owner would get.
      const user = (await t.deps.users.findByEmail(account.email))!;
      const link = `/signup/confirm?t=${t.deps.kit.links.make("sign-up", user.id, { version: user.cv })}`;
      const page = await https(request(t.app).get(link)).set("Cookie", csrf.split(";")[0]);
      const res = await https(request(t.app).post("/signup/confirm"))
        .set("Cookie", csrf.split(";")[0])
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: new URL(link, "https://x").searchParams.get("t"), password: account.password });
      expect(res.status).toBe(303);
      const cookie = cookieOf(res, "__Host-sid")!;
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\//);
      expect(cookie).not.toMatch(/Domain=/);
      const device = cookieOf(res, "__Host-device")!;
      for (const flag of [/; Secure/, /HttpOnly/, /SameSite=Strict/, /Path=\//, /Expires=/]) expect(device).toMatch(flag);
    } finally {
      await t.close();
    }
  });
});

describe("the signed-out form's token", () => {
  test("when it was issued more than two hours ago, then it is refused; issued within the hour, it works", async () => {
    const clock = testClock();
    const hour = 3600 * 1000;
    // A minute into an hour, so that what follows lands in known hours.
    clock.advance(hour - (clock.now() % hour) + 60 * 1000);
    const t = await createTestApp("embedded", { clock });
    try {
      const account = await signUp(browser(t.app));
      const old = browser(t.app);
      const oldForm = await old.get("/login");
      const fresh = browser(t.app);
      clock.advance(61 * 60 * 1000);
      const freshForm = await fresh.get("/login");
      clock.advance(61 * 60 * 1000);
      // The first was issued two hours and two minutes ago (two hour periods back); the second an hour ago.
      const refused = await old
        .post("/login")
        .type("form")
        .send({ _csrf: csrfFrom(oldForm.text), email: account.email, password: account.password });
      expect(refused.status).toBe(403);
      const accepted = await fresh
        .post("/login")
        .type("form")
        .send({ _csrf: csrfFrom(freshForm.text), email: account.email, password: account.password });
      expect(accepted.status).toBe(303);
      // A page shown now gives the old browser a new token that works.
      expect((await signIn(old, account)).status).toBe(303);
    } finally {
      await t.close();
    }
  });

  test("when a development site is reached over HTTPS, then the token's cookie is __Host-csrf and Secure; over HTTP it is plain csrf", async () => {
    const t = await createTestApp("embedded", { env: { TRUST_PROXY: "loopback" } });
    try {
      const overHttps = await request(t.app).get("/login").set("X-Forwarded-Proto", "https");
      const cookie = cookieOf(overHttps, "__Host-csrf")!;
      expect(cookie).toMatch(/; Secure/);
      expect(cookieOf(overHttps, "csrf")).toBeUndefined();
      const signedUp = await request(t.app)
        .post("/signup")
        .set("X-Forwarded-Proto", "https")
        .set("Cookie", cookie.split(";")[0])
        .type("form")
        .send({ _csrf: csrfFrom(overHttps.text), ...newAccount() });
      expect(signedUp.status).toBe(303);
      const overHttp = await request(t.app).get("/login");
      expect(cookieOf(overHttp, "csrf")).not.toMatch(/Secure/);
      // A plain-HTTP cookie (one a neighbour could have set) is no token for an HTTPS form.
      const plain = await request(t.app)
        .post("/signup")
        .set("X-Forwarded-Proto", "https")
        .set("Cookie", cookieOf(overHttp, "csrf")!.split(";")[0])
        .type("form")
        .send({ _csrf: csrfFrom(overHttp.text), ...newAccount() });
      expect(plain.status).toBe(403);
    } finally {
      await t.close();
    }
  });
});

describe("a browser that follows the redirect at once", () => {
  test("when sign-in answers 303, then the session is already stored, however slow the store", async () => {
    const base = await createTestApp("embedded");
    // The same store, with a slow network in front of its writes.
    const store = base.deps.sessions;
    const write = store.set.bind(store);
    store.set = ((sid: string, sess: never, cb?: (err?: unknown) => void) => {
      setTimeout(() => write(sid, sess, cb), 200);
    }) as typeof store.set;
    const app = base.app;
    const server = await listen(app);
    const port = server.port;
    try {
      const account = await signUp(browser(app));
      const agent = browser(app);
      const form = await agent.get("/login");
      const visitor = cookieOf(form, "csrf")!.split(";")[0];
      const body = new URLSearchParams({ _csrf: csrfFrom(form.text), email: account.email, password: account.password }).toString();
      // Act on the response headers, as a browser does with a 303, without waiting for the body.
      const cookie = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(
          { port, host: "127.0.0.1", method: "POST", path: "/login", headers: { "content-type": "application/x-www-form-urlencoded", cookie: visitor } },
          (res) => {
            res.resume();
            resolve(String(res.headers["set-cookie"]?.find((c) => c.startsWith("sid="))).split(";")[0]);
          },
        );
        req.on("error", reject);
        req.end(body);
      });
      const next = await fetch(`http://127.0.0.1:${port}/dashboard`, { headers: { cookie }, redirect: "manual" });
      expect(next.status).toBe(200);
    } finally {
      await server.close();
      await base.close();
    }
  });
});
