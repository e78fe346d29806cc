import type { ActivityLog } from "../../src/package/activity/activity-log";
import { EmbeddedActivityLog } from "../../src/package/activity/embedded-activity-log";
import { RedisActivityLog } from "../../src/package/activity/redis-activity-log";
import { type BackendKind, browser, newAccount, SAFARI_IPHONE, signIn, signUp, submit, useTestApp } from "../helpers/app";
import { connectTestRedis, uniquePrefix } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

describe.each<BackendKind>(backendKinds())("security activity (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when things happen to an account, then the activity page lists them newest first, readably", async () => {
    const account = newAccount();
    const laptop = browser(ctx().app);
    await signUp(laptop, account);
    await signIn(browser(ctx().app), { ...account, password: "not the password" });
    const phone = browser(ctx().app, SAFARI_IPHONE).set("X-Forwarded-For", "203.0.113.9");
    await signIn(phone, account);
    await submit(laptop, "/settings/sessions", "/settings/sessions/revoke-others", {});
    const page = await laptop.get("/settings/activity");
    expect(page.status).toBe(200);
    // Each one after the one before it on the page.
    let at = 0;
    for (const text of ["<strong>All other sessions signed out", "<strong>Signed in", "<strong>Failed sign-in attempt", "<strong>Signed in"]) {
      at = page.text.indexOf(text, at);
      expect(at).toBeGreaterThan(0);
      at += text.length;
    }
    expect(page.text).toMatch(/from Mobile Safari on iOS, 127\.0\.0\.1/);
    expect(page.text).toContain("less than a minute ago");
  });

  test("when another device signs in, then this session shows a notice until it is dismissed", async () => {
    const account = newAccount();
    const laptop = browser(ctx().app);
    await signUp(laptop, account);
    expect((await laptop.get("/dashboard")).text).not.toContain("New sign-in");
    const phone = browser(ctx().app, SAFARI_IPHONE);
    await signIn(phone, account);
    const dash = await laptop.get("/dashboard");
    expect(dash.text).toContain("New sign-in: <strong>Mobile Safari on iOS</strong>");
    expect(dash.text).toContain("Review sessions");
    expect((await phone.get("/dashboard")).text).not.toContain("New sign-in");
    const res = await submit(laptop, "/dashboard", "/notices/sign-in/dismiss", { back: "/dashboard" });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/dashboard");
    expect((await laptop.get("/dashboard")).text).not.toContain("New sign-in");
  });

  test("when the notice's own form ends the new session, then that device is signed out and the notice goes from every session", async () => {
    const account = newAccount();
    const laptop = browser(ctx().app);
    await signUp(laptop, account);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    await signIn(phone, account);
    const dash = await laptop.get("/dashboard");
    const action = /<form method="post" action="(\/settings\/sessions\/[A-Za-z0-9_-]{22}\/revoke)" class="inline notice-end">/.exec(dash.text)?.[1];
    expect(action).toBeDefined();
    expect(dash.text).toContain("Not you? End that session");
    const res = await submit(laptop, "/dashboard", action!, {});
    expect(res.status).toBe(303);
    expect((await laptop.get("/dashboard")).text).not.toContain("New sign-in");
    const gone = await phone.get("/dashboard");
    expect(gone.status).toBe(303);
    expect((await phone.get(gone.headers.location)).text).toContain("You were signed out from Chrome on Windows");
  });

  test("when the sessions page has been reviewed, then the notice stays away", async () => {
    const account = newAccount();
    const laptop = browser(ctx().app);
    await signUp(laptop, account);
    await signIn(browser(ctx().app, SAFARI_IPHONE), account);
    expect((await laptop.get("/dashboard")).text).toContain("New sign-in");
    await laptop.get("/settings/sessions");
    expect((await laptop.get("/dashboard")).text).not.toContain("New sign-in");
  });

  test("when activity is paged, then plain links walk back through it", async () => {
    const account = newAccount();
    const agent = browser(ctx().app);
    await signUp(agent, account);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    for (let i = 0; i < 25; i++) await ctx().deps.activity.record(user.id, { type: "sign_in_failed", ip: `198.51.100.${i}`, userAgent: "", session: null });
    const first = await agent.get("/settings/activity");
    const next = /href="\/settings\/activity\?before=(\d+)"/.exec(first.text)![1];
    expect(first.text).toContain("198.51.100.24");
    expect(first.text).not.toContain("198.51.100.4,");
    const second = await agent.get(`/settings/activity?before=${next}`);
    expect(second.text).toContain("198.51.100.4");
    expect(second.text).not.toContain("198.51.100.24");
    expect((await agent.get("/settings/activity?before=garbage")).status).toBe(200);
  });
});

describe.each([
  [
    "redis",
    async () => {
      const c = await connectTestRedis();
      return { log: new RedisActivityLog(c, { maxPerUser: 5, retention: 60_000, maxAudit: 3 }, uniquePrefix()) as ActivityLog, close: () => c.close() };
    },
  ],
  ["embedded", async () => ({ log: new EmbeddedActivityLog({ maxPerUser: 5, retention: 60_000, maxAudit: 3 }) as ActivityLog, close: async () => {} })],
] as const)("activity bounds (%s)", (_name, make) => {
  test("when more entries arrive than the bound, then the log keeps the newest only, with unique increasing ids", async () => {
    const { log, close } = await make();
    try {
      for (let i = 0; i < 12; i++) await log.record("u1", { type: "signed_in", ip: String(i), userAgent: "", session: null });
      const page = await log.list("u1", { limit: 50 });
      expect(page.entries.map((e) => e.ip)).toEqual(["11", "10", "9", "8", "7"]);
      const ids = page.entries.map((e) => e.id);
      expect(new Set(ids).size).toBe(5);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      for (let i = 0; i < 5; i++)
        await log.audit({ adminId: "a", adminEmail: "a@example.com", action: `x${i}`, targetUserId: "u", targetEmail: "u@example.com", ip: "" });
      expect((await log.listAudit({ limit: 10 })).entries.map((e) => e.action)).toEqual(["x4", "x3", "x2"]);
    } finally {
      await close();
    }
  });
});
