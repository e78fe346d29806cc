import { type RedisClientType } from "redis";
import { connectRedisSentinel } from "../../src/backend";
import { loadConfig } from "../../src/config";
import { RedisSessionStore } from "../../src/session-store/redis-session-store";
import { type RedisSentinelSetup, startRedisSentinel } from "../helpers/redis-sentinel";
import { lifetime, testCookie, uniquePrefix } from "../helpers/stores";
import { describeSessionStore } from "../session-store.contract";
import { twoDeviceJourney } from "./journey";

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
    await twoDeviceJourney(loadConfig({ REDIS_SENTINELS: sentinels().join(","), REDIS_SENTINEL_NAME: setup.name, SESSION_SECRET: "sentinel-secret-sentinel-secret-sentinel" }));
  });
});
