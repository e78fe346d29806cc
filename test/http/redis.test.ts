import request from "supertest";
import { openBackend } from "../../src/site/backend";
import {
  appOn,
  browser,
  cookieOf,
  createTestApp,
  csrfFrom,
  listen,
  newAccount,
  quietMail,
  signedUpCookie,
  signUp,
  submit,
  type TestApp,
  testConfig,
} from "../helpers/app";
import { startRedisServer } from "../helpers/redis-server";
import { monitorCommands, redisName, scanKeys } from "../helpers/topology";

describe(`with ${redisName()}`, () => {
  test("when the server restarts, then the same cookie still signs the user in", async () => {
    const first = await createTestApp("redis");
    const account = newAccount();
    const cookie = await signedUpCookie(browser(first.app), account);
    await first.close();

    const second = await createTestApp("redis", { shareWith: first });
    try {
      const dash = await request(second.app).get("/dashboard").set("Cookie", cookie);
      expect(dash.status).toBe(200);
      expect(dash.text).toContain(account.name);
    } finally {
      await second.close();
    }
  });

  test("when 10,000 cookieless page views load the sign-in and sign-up forms, then Redis gets no key, and a form still signs in", async () => {
    const t = await createTestApp("redis");
    const server = await listen(t.app);
    try {
      const before = await scanKeys(t.redis!, `${t.prefix}*`);
      const paths = ["/login", "/signup", "/", "/login?next=/settings/sessions"];
      let sent = 0;
      const worker = async () => {
        while (sent < 10_000) {
          const path = paths[sent++ % paths.length];
          const res = await fetch(`${server.base}${path}`);
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      expect(await scanKeys(t.redis!, `${t.prefix}*`)).toEqual(before);
      // The forms served that way work.
      const account = newAccount();
      await signUp(browser(t.app), account);
      const agent = browser(t.app);
      const form = await agent.get("/login");
      expect(cookieOf(form)).toBeUndefined();
      const res = await agent
        .post("/login")
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email: account.email, password: account.password });
      expect(res.status).toBe(303);
      expect((await agent.get("/dashboard")).status).toBe(200);
    } finally {
      await server.close();
      await t.close();
    }
  }, 120_000);

  test("when the secret is rotated, then cookies signed with the old one still verify", async () => {
    const first = await createTestApp("redis", { env: { SESSION_SECRET: "old-secret-old-secret-old-secret-1" } });
    const cookie = await signedUpCookie(browser(first.app), newAccount());
    const rotated = await createTestApp("redis", {
      shareWith: first,
      env: { SESSION_SECRET: "new-secret-new-secret-new-secret-2,old-secret-old-secret-old-secret-1" },
    });
    try {
      expect((await request(rotated.app).get("/dashboard").set("Cookie", cookie)).status).toBe(200);
    } finally {
      await first.close();
      await rotated.close();
    }
  });

  test.each([
    ["10000", "sends Redis nothing (the session comes from this process's cache)", 0],
    ["0", "sends Redis one GET and writes nothing", 1],
  ])("with SESSION_CACHE_ENTRIES=%s, when a signed-in page is requested inside the update window, then the app %s", async (entries, _what, perRequest) => {
    const t: TestApp = await createTestApp("redis", { env: { SESSION_CACHE_ENTRIES: entries } });
    try {
      const agent = browser(t.app);
      await signUpAndWarm(agent);
      const monitor = await monitorCommands(t.redis!, t.prefix);
      const requests = 50;
      for (let i = 0; i < requests; i++) expect((await agent.get("/dashboard")).status).toBe(200);
      const names = await monitor.stop();
      expect(names).toHaveLength(requests * perRequest);
      if (perRequest > 0) expect(new Set(names)).toEqual(new Set(["GET"]));
    } finally {
      await t.close();
    }
  });

  test("when the app's Redis client has no connection left, then pages answer 503, not 500", async () => {
    // A session read is tried again for 0.3 s, not the default 3 s, before the page answers 503.
    const t = await createTestApp("redis", { env: { REDIS_READ_RETRY_MS: "300" } });
    try {
      const cookie = await signedUpCookie(browser(t.app), newAccount());
      // A closed client fails each command at once, the way each topology's client fails
      // while it has no server to send to (behind Sentinel: between masters in a failover).
      await t.redis!.close();
      const down = await request(t.app).get("/dashboard").set("Cookie", cookie);
      expect(down.status).toBe(503);
      expect(down.text).toContain("The session service cannot be reached right now.");
    } finally {
      await t.close();
    }
  });

  test("when Redis cannot be reached, then pages answer 503 with a friendly page and /readyz answers 503", async () => {
    const server = await startRedisServer();
    // A session read is tried again for 0.3 s, not the default 3 s, before the page answers 503.
    const config = testConfig({ REDIS_URL: server.url, REDIS_READ_RETRY_MS: "300" });
    const backend = await openBackend(config, { events: quietMail });
    const app = appOn(config, backend);
    try {
      const agent = browser(app);
      await signUp(agent);
      await server.stop();
      const down = await agent.get("/dashboard");
      expect(down.status).toBe(503);
      expect(down.text).toContain("The session service cannot be reached right now.");
      expect(down.text).not.toMatch(/at \w+ \(/);
      expect((await request(app).get("/readyz")).status).toBe(503);
      expect((await request(app).get("/healthz")).status).toBe(200);
    } finally {
      await backend.close();
      await server.stop();
    }
  });
});

async function signUpAndWarm(agent: ReturnType<typeof browser>): Promise<void> {
  await signUp(agent);
  // The first page view stores the flash removal and a CSRF token; after that nothing changes.
  await agent.get("/dashboard");
  await agent.get("/dashboard");
}

describe(`two app instances on one ${redisName()}`, () => {
  test("when requests alternate between two servers, then a session made on one works on the other and a revocation on one holds on the other at once", async () => {
    const first = await createTestApp("redis");
    const second = await createTestApp("redis", { shareWith: first });
    try {
      const apps = [first.app, second.app];
      const account = newAccount("Two Instances");
      // Sign up on the first; every later request goes to the other instance in turn.
      const laptop = await signedUpCookie(browser(first.app), account);
      for (let i = 0; i < 6; i++) {
        const res = await request(apps[i % 2])
          .get("/dashboard")
          .set("Cookie", laptop);
        expect(res.status).toBe(200);
        expect(res.text).toContain("Two Instances");
      }
      const phoneAgent = browser(second.app);
      await submit(phoneAgent, "/login", "/login", { email: account.email, password: account.password });
      // The phone's session, ended from the first instance...
      const page = await request(first.app).get("/settings/sessions").set("Cookie", laptop);
      const handle = /\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
      const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
      const ended = await request(first.app).post(`/settings/sessions/${handle}/revoke`).set("Cookie", laptop).type("form").send({ _csrf: token });
      expect(ended.status).toBe(303);
      // ...is refused by the second at its very next request.
      expect((await phoneAgent.get("/dashboard")).status).toBe(303);
    } finally {
      await second.close();
      await first.close();
    }
  });
});
