import { type RedisClientType } from "redis";
import request from "supertest";
import { connectRedisSentinel, openBackend } from "../../src/backend";
import { loadConfig } from "../../src/config";
import { RedisSessionStore } from "../../src/session-store/redis-session-store";
import { SAFARI_IPHONE, appOn, browser, csrfFrom, newAccount, signIn, signUp, submit } from "../helpers/app";
import { type RedisSentinelSetup, startRedisSentinel } from "../helpers/redis-sentinel";
import { lifetime, testCookie, uniquePrefix } from "../helpers/stores";
import { describeSessionStore } from "../session-store.contract";

/** The store contract and the product behind Redis Sentinel: a master, a replica, three sentinels. */
let setup: RedisSentinelSetup;
beforeAll(async () => {
  setup = await startRedisSentinel();
}, 60_000);
afterAll(async () => setup?.stop());

const sentinels = () => setup.sentinels.map((s) => `${s.host}:${s.port}`);

describeSessionStore("Redis Sentinel", async (options = {}) => {
  const client = await connectRedisSentinel(sentinels(), setup.name);
  client.on("error", () => {});
  const store = new RedisSessionStore({
    client: client as RedisClientType,
    prefix: uniquePrefix(),
    lifetime: lifetime(options.lifetime),
    cookie: testCookie,
    maxSessionsPerUser: options.maxSessionsPerUser ?? 100,
  });
  return { store, close: () => client.close() };
});

describe("the product behind Redis Sentinel (REDIS_SENTINELS)", () => {
  test("when two devices sign in, list, revoke and rename, then it all works through the sentinels' master", async () => {
    const config = loadConfig({ REDIS_SENTINELS: sentinels().join(","), REDIS_SENTINEL_NAME: setup.name, SESSION_SECRET: "sentinel-secret-sentinel-secret-sentinel" });
    const backend = await openBackend(config);
    const app = appOn(config, backend);
    try {
      expect((await request(app).get("/readyz")).status).toBe(200);
      const account = newAccount("Sentinel Sam");
      const laptop = browser(app);
      await signUp(laptop, account);
      const phone = browser(app, SAFARI_IPHONE);
      expect((await signIn(phone, account)).status).toBe(303);
      const page = await laptop.get("/settings/sessions");
      expect(page.text).toContain("Mobile Safari on iOS");
      expect((await submit(laptop, "/settings/profile", "/settings/profile", { name: "Sam S." })).status).toBe(303);
      expect((await phone.get("/dashboard")).text).toContain("Sam S.");
      const handle = /\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
      expect((await laptop.post(`/settings/sessions/${handle}/revoke`).type("form").send({ _csrf: csrfFrom(page.text) })).status).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(303);
      expect((await signIn(browser(app), { ...account, password: "wrong password" })).status).toBe(401);
    } finally {
      await backend.close();
    }
  });
});
