import request from "supertest";
import { browser, cookieOf, createTestApp, csrfFrom, newAccount, SAFARI_IPHONE, sentSessionCookie, signIn, signUp, submit, type TestApp } from "../helpers/app";
import { backendKinds } from "../helpers/topology";

describe.each(backendKinds())("SESSION_LIMIT_POLICY=ask at a cap of 2 (%s)", (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { env: { SESSION_MAX_PER_USER: "2", SESSION_LIMIT_POLICY: "ask" } });
  });
  afterAll(() => t.close());

  const atTheCap = async () => {
    const account = newAccount();
    const first = browser(t.app, SAFARI_IPHONE);
    await signUp(first, account);
    const second = browser(t.app);
    await signIn(second, account);
    const userId = (await t.deps.users.findByEmail(account.email))!.id;
    return { account, first, second, userId };
  };

  test("when a third device signs in, then it chooses a session to end first, and only then is it signed in", async () => {
    const { account, first, second, userId } = await atTheCap();
    const third = browser(t.app);
    const res = await signIn(third, account, { next: "/settings/profile" });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/settings/sessions/choose");
    // Nothing signed in yet: still two sessions, and the third device is not signed in.
    expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(2);
    expect((await third.get("/dashboard")).status).toBe(303);

    const page = await third.get("/settings/sessions/choose");
    expect(page.status).toBe(200);
    expect(page.text).toContain("already signed in on 2 devices");
    const handles = [...page.text.matchAll(/name="end" value="([A-Za-z0-9_-]{22})"/g)].map((m) => m[1]);
    expect(handles).toHaveLength(2);
    const mobile = (await t.deps.sessions.listUserSessions(userId)).find((s) => s.userAgent === SAFARI_IPHONE)!.handle;

    // None picked: refused, nothing changes.
    const none = await third
      .post("/settings/sessions/choose")
      .type("form")
      .send({ _csrf: csrfFrom(page.text) });
    expect(none.status).toBe(400);
    const chosen = await third
      .post("/settings/sessions/choose")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), end: mobile });
    expect(chosen.status).toBe(303);
    expect(chosen.headers.location).toBe("/settings/profile");
    expect((await third.get("/dashboard")).status).toBe(200);
    expect((await second.get("/dashboard")).status).toBe(200);
    const gone = await first.get("/dashboard");
    expect(gone.status).toBe(303);
    expect((await first.get(gone.headers.location)).text).toContain("You were signed out from Chrome on Windows");
    expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(2);
  });

  test("when the choice names another account's session, or the choice is abandoned, then nothing is ended and nothing signed in", async () => {
    const { account, userId } = await atTheCap();
    const stranger = await atTheCap();
    const third = browser(t.app);
    await signIn(third, account);
    const page = await third.get("/settings/sessions/choose");
    const theirs = (await t.deps.sessions.listUserSessions(stranger.userId))[0].handle;
    const res = await third
      .post("/settings/sessions/choose")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), end: theirs });
    expect(res.status).toBe(400);
    expect(await t.deps.sessions.listUserSessions(stranger.userId)).toHaveLength(2);
    expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(2);
    expect((await third.get("/dashboard")).status).toBe(303);
  });

  const choiceOf = async (agent: ReturnType<typeof browser>) => {
    const page = await agent.get("/settings/sessions/choose");
    expect(page.status).toBe(200);
    return csrfFrom(page.text);
  };

  test("when the owner changes the password while a sign-in waits at the cap, then the waiting sign-in is refused and ends nothing", async () => {
    const { account, first, userId } = await atTheCap();
    const attacker = browser(t.app);
    expect((await signIn(attacker, account)).headers.location).toBe("/settings/sessions/choose");
    const token = await choiceOf(attacker);
    // The owner changes the password on the first device: the second is signed out.
    const change = await submit(first, "/settings/password", "/settings/password", {
      current_password: account.password,
      new_password: "an entirely new passphrase",
    });
    expect(change.status).toBe(303);
    const owners = await t.deps.sessions.listUserSessions(userId);
    expect(owners).toHaveLength(1);
    const res = await attacker.post("/settings/sessions/choose").type("form").send({ _csrf: token, end: owners[0].handle });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login");
    expect((await attacker.get("/login")).text).toContain("That sign-in can no longer be completed.");
    expect((await attacker.get("/dashboard")).status).toBe(303);
    expect((await first.get("/dashboard")).status).toBe(200);
    expect((await t.deps.sessions.listUserSessions(userId)).map((s) => s.handle)).toEqual([owners[0].handle]);
  });

  test("when a sign-in waits at the cap, then the browser gets a new session id, and the id it came with cannot complete it", async () => {
    const { account, userId } = await atTheCap();
    // A session id the planter holds (a waiting sign-in to an account of its own), planted in the victim's browser.
    const planterAccount = (await atTheCap()).account;
    const planted = cookieOf(await signIn(browser(t.app), planterAccount))!.split(";")[0];
    const victim = browser(t.app);
    const form = await victim.get("/login");
    const waiting = await victim
      .post("/login")
      .set("Cookie", planted)
      .type("form")
      .send({ _csrf: csrfFrom(form.text), email: account.email, password: account.password });
    expect(waiting.headers.location).toBe("/settings/sessions/choose");
    expect(sentSessionCookie(waiting)).toBe(planted);
    const given = cookieOf(waiting)!.split(";")[0];
    expect(given).toMatch(/^sid=/);
    expect(given).not.toBe(planted);
    // The planted id holds nothing: the planter cannot see or complete the victim's choice.
    const planter = await request(t.app).get("/settings/sessions/choose").set("Cookie", planted);
    expect(planter.status).toBe(303);
    expect(planter.headers.location).toBe("/login");
    expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(2);
  });

  test("when one waiting sign-in is completed twice at once, then exactly one session starts", async () => {
    const { account, first, userId } = await atTheCap();
    const third = browser(t.app);
    await signIn(third, account);
    const token = await choiceOf(third);
    const mobile = (await t.deps.sessions.listUserSessions(userId)).find((s) => s.userAgent === SAFARI_IPHONE)!.handle;
    const answers = await Promise.all([0, 1, 2].map(() => third.post("/settings/sessions/choose").type("form").send({ _csrf: token, end: mobile })));
    expect(answers.map((r) => r.headers.location).sort()).toEqual(["/dashboard", "/login", "/login"]);
    expect(await t.deps.sessions.listUserSessions(userId)).toHaveLength(2);
    expect((await first.get("/dashboard")).status).toBe(303);
  });
});

describe("SESSION_LIMIT_POLICY=ask with more sessions than the cap (redis, the cap lowered)", () => {
  test("when the choice names one session twice where two must end, then it counts once and is refused", async () => {
    const roomy = await createTestApp("redis", { env: { SESSION_MAX_PER_USER: "3" } });
    const tight = await createTestApp("redis", { shareWith: roomy, env: { SESSION_MAX_PER_USER: "2", SESSION_LIMIT_POLICY: "ask" } });
    try {
      const account = newAccount();
      await signUp(browser(roomy.app), account);
      await signIn(browser(roomy.app), account);
      await signIn(browser(roomy.app), account);
      const userId = (await roomy.deps.users.findByEmail(account.email))!.id;
      const fourth = browser(tight.app);
      expect((await signIn(fourth, account)).headers.location).toBe("/settings/sessions/choose");
      const page = await fourth.get("/settings/sessions/choose");
      const [a, b] = (await tight.deps.sessions.listUserSessions(userId)).map((s) => s.handle);
      const twice = await fourth
        .post("/settings/sessions/choose")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), end: [a, a] });
      expect(twice.status).toBe(400);
      expect(twice.text).toContain("Choose 2 sessions to end.");
      expect(await tight.deps.sessions.listUserSessions(userId)).toHaveLength(3);
      const both = await fourth
        .post("/settings/sessions/choose")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), end: [a, b] });
      expect(both.status).toBe(303);
      expect(await tight.deps.sessions.listUserSessions(userId)).toHaveLength(2);
    } finally {
      await tight.close();
      await roomy.close();
    }
  });
});
