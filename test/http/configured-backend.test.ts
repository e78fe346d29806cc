import request from "supertest";
import { openBackend } from "../../src/backend";
import { loadConfig } from "../../src/config";
import { SAFARI_IPHONE, appOn, browser, csrfFrom, newAccount, signIn, signUp, submit } from "../helpers/app";
import { isCluster } from "../../src/session-store/redis-client";
import { connectTestRedis } from "../helpers/stores";
import { masterUrls, redisName, testRedisEnv, topology } from "../helpers/topology";

/**
 * The product wired as server.ts wires it, from configuration variables (REDIS_URL,
 * REDIS_CLUSTER_NODES or REDIS_SENTINELS): two devices sign in, list, rename, revoke.
 */
describe(`the product configured for ${redisName()}`, () => {
  test("when two devices sign in, list, revoke, rename and see activity, then it all works", async () => {
    const config = loadConfig({ ...testRedisEnv(), SESSION_SECRET: "configured-secret-configured-secret" });
    const backend = await openBackend(config);
    const app = appOn(config, backend);
    try {
      expect((await request(app).get("/readyz")).status).toBe(200);
      const account = newAccount("Topology Tess");
      const laptop = browser(app);
      await signUp(laptop, account);
      const phone = browser(app, SAFARI_IPHONE);
      expect((await signIn(phone, account)).status).toBe(303);
      const page = await laptop.get("/settings/sessions");
      expect(page.text).toContain("Mobile Safari on iOS");
      expect((await submit(laptop, "/settings/profile", "/settings/profile", { name: "Tess T." })).status).toBe(303);
      expect((await phone.get("/dashboard")).text).toContain("Tess T.");
      const handle = /\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
      expect((await laptop.post(`/settings/sessions/${handle}/revoke`).type("form").send({ _csrf: csrfFrom(page.text) })).status).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(303);
      expect((await laptop.get("/settings/activity")).text).toContain("Session on Mobile Safari on iOS ended");
      expect((await signIn(browser(app), { ...account, password: "wrong password" })).status).toBe(401);
      expect((await laptop.get("/api/sessions")).body.sessions).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });
});

describe("the run's Redis", () => {
  test(`when the suite runs on ${redisName()}, then its clients are connected to that topology`, async () => {
    const client = await connectTestRedis();
    try {
      const kind = isCluster(client) ? "cluster" : "getMasterNode" in client ? "sentinel" : "single";
      expect(kind).toBe(topology());
      expect(masterUrls(client)).toHaveLength(topology() === "cluster" ? 3 : 1);
    } finally {
      await client.close();
    }
  });
});
