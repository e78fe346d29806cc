import { createCluster, type RedisClientType } from "redis";
import request from "supertest";
import { openBackend } from "../../src/backend";
import { loadConfig } from "../../src/config";
import { SAFARI_IPHONE, appOn, browser, csrfFrom, newAccount, signIn, signUp, submit } from "../helpers/app";
import { RedisSessionStore } from "../../src/session-store/redis-session-store";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster";
import { lifetime, testCookie, uniquePrefix } from "../helpers/stores";
import { describeSessionStore } from "../session-store.contract";

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
    const config = loadConfig({ REDIS_CLUSTER_NODES: nodes, SESSION_SECRET: "cluster-secret-cluster-secret-cluster" });
    const backend = await openBackend(config);
    const app = appOn(config, backend);
    try {
      expect((await request(app).get("/readyz")).status).toBe(200);
      const account = newAccount("Cluster Carla");
      const laptop = browser(app);
      await signUp(laptop, account);
      const phone = browser(app, SAFARI_IPHONE);
      expect((await signIn(phone, account)).status).toBe(303);
      const page = await laptop.get("/settings/sessions");
      expect(page.text).toContain("Mobile Safari on iOS");
      expect((await submit(laptop, "/settings/profile", "/settings/profile", { name: "Carla C." })).status).toBe(303);
      expect((await phone.get("/dashboard")).text).toContain("Carla C.");
      const handle = /\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
      expect((await laptop.post(`/settings/sessions/${handle}/revoke`).type("form").send({ _csrf: csrfFrom(page.text) })).status).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(303);
      expect((await laptop.get("/settings/activity")).text).toContain("Session on Mobile Safari on iOS ended");
      expect((await signIn(browser(app), { ...account, password: "wrong password" })).status).toBe(401);
      const api = await laptop.get("/api/sessions");
      expect(api.body.sessions).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });
});
