import fc from "fast-check";
import request from "supertest";
import { handleOf, parseRecord } from "../src/package/session-store/session-record";
import { type Agent, browser, cookieOf, createTestApp, csrfFrom, newAccount, SAFARI_IPHONE, signIn, signUp, type TestApp } from "./helpers/app";
import { scanKeys } from "./helpers/topology";

/**
 * Property-based tests over every form and route: random text, unicode, null bytes, huge
 * values, repeated keys (arrays), bracketed keys (objects) and __proto__. Nothing may answer
 * 5xx, nothing may be lost, and the session index must stay exactly the live sessions.
 */

const FIELD_NAMES = [
  "name",
  "email",
  "password",
  "remember",
  "next",
  "current_password",
  "new_password",
  "__proto__",
  "constructor",
  "prototype",
  "__proto__[role]",
  "constructor[prototype][x]",
  "name[]",
  "email[0]",
  "password[a][b]",
  "_csrf[]",
  "toString",
  "hasOwnProperty",
];

const hostileValue = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.constantFrom(
    "",
    "\u0000",
    "\u0000admin",
    "%00",
    "<script>alert(1)</script>",
    "'\"><img src=x>",
    "//evil.example",
    "/\\evil",
    "a".repeat(300),
    "é".repeat(5000),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as plain text.
    "${7*7}",
    "{{7*7}}",
    "admin",
    "true",
    "[]",
    "{}",
  ),
  fc.string({ minLength: 1000, maxLength: 12000 }),
);

const hostileFields = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 20 })), hostileValue), { maxLength: 8 });

function encode(fields: Array<[string, string]>): string {
  return fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

function sidOf(agentCookie: string): string {
  const value = decodeURIComponent(agentCookie.split(";")[0].slice("sid=".length));
  return value.slice(2, value.lastIndexOf("."));
}

/** Every session key of the test's prefix belongs to its user's index, and every index entry to a key. */
async function expectIndexConsistent(t: TestApp, userId: string): Promise<Set<string>> {
  const redis = t.redis!;
  const keys = await scanKeys(redis, `${t.prefix}sess:*`);
  const sessionKeys = keys.filter((k) => !k.includes(":user:"));
  const owned = new Set<string>();
  for (const key of sessionKeys) {
    if (parseRecord(await redis.get(key))?.uid === userId) owned.add(key.slice(`${t.prefix}sess:`.length));
  }
  const indexed = new Set(await redis.zRange(`${t.prefix}sess:user:{${userId}}`, 0, -1));
  expect([...indexed].sort()).toEqual([...owned].sort());
  return indexed;
}

describe("hostile input against real Redis", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("redis");
  });
  afterAll(async () => t.close());

  test("when any form receives hostile fields with a valid token, then nothing answers 5xx and the account is intact", async () => {
    const owner = browser(t.app);
    const account = await signUp(owner);
    const phone = browser(t.app, SAFARI_IPHONE);
    await signIn(phone, account);
    const user = (await t.deps.users.findByEmail(account.email))!;
    const token = csrfFrom((await owner.get("/settings/profile")).text);
    const [phoneRow] = (await t.deps.sessions.listUserSessions(user.id)).filter((r) => r.userAgent === SAFARI_IPHONE);
    const actions = [
      "/signup",
      "/login",
      "/settings/profile",
      "/settings/password",
      "/settings/delete-account",
      `/settings/sessions/${phoneRow.handle}/revoke`,
      "/settings/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke",
      "/settings/sessions/%00/revoke",
      "/settings/sessions/..%2f..%2f/revoke",
      "/notices/sign-in/dismiss",
      "/admin/users/x/disable",
      "/api/sessions/revoke-others",
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...actions), hostileFields, async (action, fields) => {
        const body = `${encode(fields.filter(([k]) => k !== "password" || !action.includes("delete")))}&_csrf=${token}`;
        const res = await owner.post(action).type("form").send(body);
        expect(res.status).toBeLessThan(500);
        expect(res.text).not.toMatch(/at \w+ \(.*:\d+:\d+\)/);
      }),
      { numRuns: 150 },
    );
    // Still signed in, still the same password, and the index holds the live sessions only.
    expect((await owner.get("/dashboard")).status).toBe(200);
    expect((await signIn(browser(t.app), account)).status).toBe(303);
    const fresh = (await t.deps.users.findById(user.id))!;
    expect(fresh.role).toBe("user");
    expect(fresh.email).toBe(account.email);
    expect(({} as Record<string, unknown>).role).toBeUndefined();
    await expectIndexConsistent(t, user.id);
  });

  test("when sign-out and revoke-others receive hostile fields, then they answer 303 or a 4xx page, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/logout", "/settings/sessions/revoke-others"), hostileFields, fc.boolean(), async (action, fields, withToken) => {
        const agent = browser(t.app);
        await signUp(agent);
        const token = csrfFrom((await agent.get("/dashboard")).text);
        const res = await agent
          .post(action)
          .type("form")
          .send(`${encode(fields)}${withToken ? `&_csrf=${token}` : ""}`);
        expect([303, 400, 403, 413, 422]).toContain(res.status);
      }),
      { numRuns: 30 },
    );
  });

  test("when the JSON API receives hostile bodies and handles, then nothing answers 5xx", async () => {
    const agent = browser(t.app);
    await signUp(agent);
    const token = (await agent.get("/api/me")).body.csrfToken as string;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.string()), fc.string({ maxLength: 40 }), async (body, handle) => {
        const payload = typeof body === "string" ? body : JSON.stringify(body);
        const del = await agent
          .delete(`/api/sessions/${encodeURIComponent(handle)}`)
          .set("X-CSRF-Token", token)
          .set("Content-Type", "application/json")
          .send(payload);
        // No such session whatever the handle: a 4xx, and the API's JSON error, never a page or a trace.
        expect(del.status).toBeGreaterThanOrEqual(400);
        expect(del.status).toBeLessThan(500);
        expect(del.headers["content-type"]).toMatch(/^application\/json/);
        expect(typeof del.body.error).toBe("string");
      }),
      { numRuns: 100 },
    );
    expect((await agent.get("/api/me")).status).toBe(200);
  });

  test("when pages are asked for with hostile paths, queries, cookies and user agents, then nothing answers 5xx", async () => {
    const paths = [
      "/",
      "/login",
      "/signup",
      "/dashboard",
      "/settings/sessions",
      "/settings/profile",
      "/settings/activity",
      "/admin/users",
      "/admin/audit",
      "/unauthorized",
      "/api/me",
      "/api/activity",
      "/readyz",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.string({ maxLength: 300 }),
        fc.oneof(
          fc.constant(""),
          fc.string({ maxLength: 200 }).map((s) => `sid=${encodeURIComponent(s)}`),
          fc.constant(`sid=${"%".repeat(50)}`),
        ),
        fc.string({ unit: "binary", maxLength: 2000 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "")),
        async (path, query, cookie, userAgent) => {
          const res = await request(t.app)
            .get(`${path}?next=${encodeURIComponent(query)}&${encodeURIComponent(query)}=1`)
            .set("Cookie", cookie)
            .set("User-Agent", userAgent);
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** A device that was ended meanwhile has no form to submit: that is part of the race. */
async function submitIfSignedIn(agent: Agent, action: string): Promise<void> {
  const page = await agent.get("/settings/sessions");
  if (page.status !== 200) return;
  const res = await agent
    .post(action)
    .type("form")
    .send({ _csrf: csrfFrom(page.text) });
  expect([303, 400, 403, 404]).toContain(res.status);
}

describe("concurrency against real Redis", () => {
  test("when 200 sign-ins, sign-outs and revokes of one user interleave, then the index holds exactly the live sessions", async () => {
    const t = await createTestApp("redis");
    try {
      const account = newAccount();
      await signUp(browser(t.app), account);
      const user = (await t.deps.users.findByEmail(account.email))!;
      const devices: Array<{ agent: Agent; handle: string }> = [];
      const signInOne = async () => {
        const agent = browser(t.app);
        const res = await signIn(agent, account);
        if (res.status === 303) devices.push({ agent, handle: handleOf(sidOf(cookieOf(res)!)) });
      };
      for (let i = 0; i < 10; i++) await signInOne();

      // 200 operations, started in waves of 20 so they overlap in Redis.
      const ops = fc.sample(fc.constantFrom("signin", "signin", "signout", "revoke", "revoke-others"), { numRuns: 200, seed: 42 });
      for (let wave = 0; wave < ops.length; wave += 20) {
        await Promise.all(
          ops.slice(wave, wave + 20).map(async (op, i) => {
            const pick = () => devices[(wave + i * 7) % Math.max(devices.length, 1)];
            if (op === "signin" || devices.length < 2) return signInOne();
            const actor = pick();
            if (op === "signout") return submitIfSignedIn(actor.agent, "/logout");
            if (op === "revoke-others") return submitIfSignedIn(actor.agent, "/settings/sessions/revoke-others");
            const target = devices[(wave * 3 + i) % devices.length];
            return submitIfSignedIn(actor.agent, `/settings/sessions/${target.handle}/revoke`);
          }),
        );
      }

      const live = new Set<string>();
      for (const d of devices) {
        const res = await d.agent.get("/dashboard");
        expect([200, 303]).toContain(res.status);
        if (res.status === 200) live.add(d.handle);
      }
      // The run did end sessions and leave others alive, or it proved nothing.
      expect(devices.length).toBeGreaterThan(30);
      expect(live.size).toBeGreaterThan(0);
      expect(live.size).toBeLessThan(devices.length);
      const indexed = await expectIndexConsistent(t, user.id);
      expect([...indexed].sort()).toEqual([...live].sort());
      const listed = (await t.deps.sessions.listUserSessions(user.id)).map((r) => r.handle);
      expect(listed.sort()).toEqual([...live].sort());
    } finally {
      await t.close();
    }
  });
});
