import { browser, createTestApp, csrfFrom, newAccount, SAFARI_IPHONE, signIn, signUp, type TestApp } from "../helpers/app";
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
});
