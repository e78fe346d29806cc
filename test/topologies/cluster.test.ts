import { createCluster, type RedisClientType } from "redis";
import { loadConfig } from "../../src/config";
import { RedisSessionStore } from "../../src/session-store/redis-session-store";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster";
import { lifetime, testCookie, uniquePrefix } from "../helpers/stores";
import { describeSessionStore } from "../session-store.contract";
import { twoDeviceJourney } from "./journey";

/** The store contract on a real Redis Cluster: 3 masters, a replica each. */
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => cluster?.stop());

describeSessionStore("Redis Cluster", async (options = {}) => {
  const client = createCluster({ rootNodes: cluster.nodes.slice(0, 3).map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
  client.on("error", () => {});
  await client.connect();
  const store = new RedisSessionStore({
    client: client as unknown as RedisClientType,
    prefix: uniquePrefix(),
    lifetime: lifetime(options.lifetime),
    cookie: testCookie,
    maxSessionsPerUser: options.maxSessionsPerUser ?? 100,
  });
  return { store, close: () => client.close() };
});

describe("the product on a Redis Cluster (REDIS_CLUSTER_NODES)", () => {
  test("when two devices sign in, list, revoke, rename and see activity, then it all works across slots", async () => {
    const nodes = cluster.nodes.slice(0, 3).map((n) => `${n.host}:${n.port}`).join(",");
    await twoDeviceJourney(loadConfig({ REDIS_CLUSTER_NODES: nodes, SESSION_SECRET: "cluster-secret-cluster-secret-cluster" }));
  });
});
