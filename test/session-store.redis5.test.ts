import type { RedisClientType } from "redis";
import { createClient } from "redis5";
import { redisStoreOn, type StoreFactory } from "./helpers/stores";
import { testRedisEnv } from "./helpers/topology";
import { describeSessionStore } from "./session-store.contract";

// The store on the client a site on connect-redis 9 already has: node-redis 5 (a peer beside 6).
const redis5StoreFactory: StoreFactory = async (options = {}) => {
  const client = createClient({ url: testRedisEnv("single").REDIS_URL, disableOfflineQueue: true });
  client.on("error", () => {});
  await client.connect();
  return redisStoreOn(client as unknown as RedisClientType, options);
};

// The one-server project only (jest.config.js); the topologies' projects run node-redis 6.
describeSessionStore("Redis through node-redis 5", redis5StoreFactory);
