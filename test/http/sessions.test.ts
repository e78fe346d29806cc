import request from "supertest";
import {
  type BackendKind,
  browser,
  CHROME_WINDOWS,
  cookieOf,
  createTestApp,
  csrfFrom,
  SAFARI_IPHONE,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  type TestApp,
  useTestApp,
} from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

/** The sessions list of the sessions page, without the rest of the page. */
function sessionList(html: string): string {
  return html.slice(html.indexOf('<ul class="sessions">'), html.indexOf("</ul>", html.indexOf('<ul class="sessions">')));
}

/** The handles in the sessions page's revoke forms. */
function revokeHandles(html: string): string[] {
  return [...html.matchAll(/action="\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map((m) => m[1]);
}

describe.each<BackendKind>(backendKinds())("the sessions page (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when one person is signed in on two devices, then each lists both and one can end the other", async () => {
    const laptop = browser(ctx().app, CHROME_WINDOWS);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    expect((await signIn(phone, account)).status).toBe(303);

    const fromLaptop = await laptop.get("/settings/sessions");
    expect(fromLaptop.status).toBe(200);
    expect(fromLaptop.text).toContain("Chrome on Windows");
    expect(fromLaptop.text).toContain("Mobile Safari on iOS");
    expect(fromLaptop.text).toContain("Desktop");
    expect(fromLaptop.text).toContain("Mobile");
    expect(fromLaptop.text).toMatch(/Last active <time datetime="[^"]+">less than a minute ago<\/time>/);
    expect(fromLaptop.text.match(/This device/g)).toHaveLength(1);
    expect(fromLaptop.text).toContain("Sign out all other sessions");
    // The "This device" row is the laptop's: it sits in the Chrome row, which has no revoke form.
    const chromeRow = fromLaptop.text.slice(
      fromLaptop.text.indexOf("Chrome on Windows"),
      fromLaptop.text.indexOf("</li>", fromLaptop.text.indexOf("Chrome on Windows")),
    );
    expect(chromeRow).toContain("This device");
    expect(chromeRow).not.toContain("/revoke");

    const fromPhone = await phone.get("/settings/sessions");
    const phoneRow = fromPhone.text.slice(
      fromPhone.text.indexOf("Mobile Safari on iOS"),
      fromPhone.text.indexOf("</li>", fromPhone.text.indexOf("Mobile Safari on iOS")),
    );
    expect(phoneRow).toContain("This device");

    const [phoneHandle] = revokeHandles(fromLaptop.text);
    const res = await laptop
      .post(`/settings/sessions/${phoneHandle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(fromLaptop.text) });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/settings/sessions");
    const after = await laptop.get("/settings/sessions");
    expect(after.text).toContain("Signed out that session.");
    expect(sessionList(after.text)).not.toContain("Mobile Safari on iOS");

    const phoneNext = await phone.get("/dashboard");
    expect(phoneNext.status).toBe(303);
    expect(phoneNext.headers.location).toBe("/login?next=%2Fdashboard");
  });

  test("when the handle is another user's session, then revoking answers 404 and ends nothing", async () => {
    const mallory = browser(ctx().app);
    await signUp(mallory);
    const victim = browser(ctx().app);
    await signUp(victim);
    const victimHandle = await currentHandle(ctx(), victim);
    for (const handle of [victimHandle, "AAAAAAAAAAAAAAAAAAAAAA", "not-a-handle", "..%2F..%2Fetc"]) {
      const res = await submit(mallory, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {});
      expect(res.status).toBe(404);
      expect(res.text).toContain("That session was not found");
    }
    expect((await victim.get("/dashboard")).status).toBe(200);
  });

  test("when someone signs out all other sessions, then only this device stays signed in", async () => {
    const devices = [browser(ctx().app), browser(ctx().app, SAFARI_IPHONE), browser(ctx().app)];
    const account = await signUp(devices[0]);
    for (const d of devices.slice(1)) await signIn(d, account);
    const res = await submit(devices[0], "/settings/sessions", "/settings/sessions/revoke-others", {});
    expect(res.status).toBe(303);
    const page = await devices[0].get("/settings/sessions");
    expect(page.text).toContain("Signed out 2 other sessions.");
    expect(page.text).toContain("This is the only device signed in to your account.");
    for (const d of devices.slice(1)) expect((await d.get("/dashboard")).status).toBe(303);
  });

  test("when this device's own handle is posted, then it is refused with a pointer to Sign out", async () => {
    const agent = browser(ctx().app);
    await signUp(agent);
    const handle = await currentHandle(ctx(), agent);
    const res = await submit(agent, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {});
    expect(res.status).toBe(400);
    expect((await agent.get("/dashboard")).status).toBe(200);
  });
});

describe.each<BackendKind>(backendKinds())("naming devices (%s)", (kind) => {
  const ctx = useTestApp(kind);

  /** An account on a laptop and a phone, and the handle of the phone's session, as the laptop's sessions page shows it. */
  const laptopAndPhone = async () => {
    const laptop = browser(ctx().app);
    await signIn(browser(ctx().app, SAFARI_IPHONE), await signUp(laptop));
    const page = await laptop.get("/settings/sessions");
    return { laptop, handle: /action="\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/.exec(page.text)![1] };
  };

  test("when a person names their phone, then the name shows first on the sessions page with the detected device beside it, escaped", async () => {
    const { laptop, handle } = await laptopAndPhone();
    const res = await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/name`, { name: "  Ada's <b>phone</b>  " });
    expect(res.status).toBe(303);
    const after = await laptop.get("/settings/sessions");
    expect(after.text).toContain('<strong><bdi>Ada&#39;s &lt;b&gt;phone&lt;/b&gt;</bdi></strong> <span class="device-detected">Mobile Safari on iOS</span>');
    expect(after.text).not.toContain("<b>phone</b>");
    const api = await laptop.get("/api/sessions");
    expect(api.body.sessions.find((s: { id: string }) => s.id === handle).name).toBe("Ada's <b>phone</b>");
    // Ending it says the name in the activity; the name goes with the session.
    await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {});
    expect((await laptop.get("/settings/activity")).text).toContain(
      "Session on <bdi>Ada&#39;s &lt;b&gt;phone&lt;/b&gt; (Mobile Safari on iOS)</bdi> signed out",
    );
  });

  test("when a name holds bidi overrides, invisible or C1 characters or line separators, then they are stripped and the name is isolated in <bdi>", async () => {
    const { laptop, handle } = await laptopAndPhone();
    const hostile = "\u202eenohp\u202c \u2066x\u2069\u200b\u200f\u0085\u2028\u2029\ufeffmy";
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/name`, { name: hostile })).status).toBe(303);
    const api = await laptop.get("/api/sessions");
    expect(api.body.sessions.find((s: { id: string }) => s.id === handle).name).toBe("enohp xmy");
    await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {});
    const activity = (await laptop.get("/settings/activity")).text;
    expect(activity).toContain("Session on <bdi>enohp xmy (Mobile Safari on iOS)</bdi> signed out");
    expect(activity).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2028\u2029\u0080-\u009f]/);
  });

  test("when a name is too long, not a string, or for a session that is not theirs, then nothing is named", async () => {
    const laptop = browser(ctx().app);
    const account = await signUp(laptop);
    const own = (await ctx().deps.sessions.listUserSessions((await ctx().deps.users.findByEmail(account.email))!.id))[0].handle;
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${own}/name`, { name: "x".repeat(41) })).status).toBe(400);
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${own}/name`, { name: ["a", "b"] })).status).toBe(400);
    const stranger = browser(ctx().app);
    await signUp(stranger);
    expect((await submit(stranger, "/settings/sessions", `/settings/sessions/${own}/name`, { name: "Mine now" })).status).toBe(404);
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${own}/name`, { name: "This laptop" })).status).toBe(303);
    expect((await laptop.get("/settings/sessions")).text).toContain("<strong><bdi>This laptop</bdi></strong>");
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${own}/name`, { name: "" })).status).toBe(303);
    expect((await laptop.get("/settings/sessions")).text).not.toContain("This laptop");
  });
});

describe("re-authentication window", () => {
  const clock = testClock();
  const ctx = useTestApp("redis", { env: { SESSION_REAUTH_WINDOW: "1" }, clock });

  test("when the password was entered too long ago, then ending sessions asks for it in the same form", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    clock.advance(1100);
    const page = await laptop.get("/settings/sessions");
    expect(page.text).toContain('name="password" type="password"');
    const [handle] = revokeHandles(page.text);

    const missing = await laptop
      .post(`/settings/sessions/${handle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text) });
    expect(missing.status).toBe(422);
    expect(missing.text).toContain("Enter your password to continue.");
    const wrong = await laptop
      .post(`/settings/sessions/${handle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password: "nope nope" });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain("That password is not correct.");
    expect((await phone.get("/dashboard")).status).toBe(200);

    const before = sentSessionCookie(page);
    expect(before).toMatch(/^sid=/);
    const right = await laptop
      .post(`/settings/sessions/${handle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password: account.password });
    expect(right.status).toBe(303);
    expect((await phone.get("/dashboard")).status).toBe(303);
    // Entering the password again is an authentication: this device gets a new session id.
    const after = cookieOf(right)?.split(";")[0];
    expect(after).toMatch(/^sid=/);
    expect(after).not.toBe(before);
    expect((await request(ctx().app).get("/dashboard").set("Cookie", before!)).status).toBe(303);
    expect((await laptop.get("/settings/sessions")).text).toContain("Signed out that session.");
  });

  test("when the password is entered to end a session that is gone, then it answers 404 and this device still gets a new id", async () => {
    const laptop = browser(ctx().app);
    await signUp(laptop);
    clock.advance(1100);
    const page = await laptop.get("/settings/sessions");
    const before = sentSessionCookie(page)!;
    const gone = "A".repeat(22);
    const res = await laptop
      .post(`/settings/sessions/${gone}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password: "correct horse battery" });
    expect(res.status).toBe(404);
    expect(res.text).toContain("That session was not found.");
    const after = cookieOf(res)?.split(";")[0];
    expect(after).toMatch(/^sid=/);
    expect(after).not.toBe(before);
    expect((await request(ctx().app).get("/dashboard").set("Cookie", before)).status).toBe(303);
    expect((await laptop.get("/dashboard")).status).toBe(200);
  });
});

/** This agent's session handle, found the way the product finds it: from the sessions list. */
async function currentHandle(t: TestApp, agent: ReturnType<typeof browser>): Promise<string> {
  const page = await agent.get("/settings/sessions");
  const shown = revokeHandles(page.text);
  const email = /\(([^)]+@example\.com)\)/.exec((await agent.get("/dashboard")).text)![1];
  const user = (await t.deps.users.findByEmail(email))!;
  const all = (await t.deps.sessions.listUserSessions(user.id)).map((s) => s.handle);
  const mine = all.filter((h) => !shown.includes(h));
  expect(mine).toHaveLength(1);
  return mine[0];
}

describe("activity and client addresses", () => {
  test("when the update age has passed, then the next request records last activity, user agent and IP again", async () => {
    const clock = testClock();
    const t = await createTestApp("redis", { env: { SESSION_UPDATE_AGE: "2" }, clock });
    try {
      const agent = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(agent);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const [before] = await t.deps.sessions.listUserSessions(user.id);
      await agent.get("/dashboard").set("User-Agent", SAFARI_IPHONE);
      expect((await t.deps.sessions.listUserSessions(user.id))[0].userAgent).toBe(CHROME_WINDOWS);
      clock.advance(2100);
      await agent.get("/dashboard").set("User-Agent", SAFARI_IPHONE);
      const [after] = await t.deps.sessions.listUserSessions(user.id);
      expect(after.userAgent).toBe(SAFARI_IPHONE);
      expect(after.lastActiveAt).toBeGreaterThan(before.lastActiveAt);
      expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
    } finally {
      await t.close();
    }
  });

  test.each([
    [undefined, "127.0.0.1"],
    ["1", "203.0.113.9"],
  ])("when TRUST_PROXY is %s, then a session from behind X-Forwarded-For records %s", async (trust, expected) => {
    const t = await createTestApp("embedded", { env: trust ? { TRUST_PROXY: trust } : {} });
    try {
      const agent = browser(t.app).set("X-Forwarded-For", "203.0.113.9");
      const account = await signUp(agent);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const [row] = await t.deps.sessions.listUserSessions(user.id);
      expect(row.ip).toBe(expected);
      expect((await agent.get("/settings/sessions")).text).toContain(`<span>${expected}</span>`);
    } finally {
      await t.close();
    }
  });
});
