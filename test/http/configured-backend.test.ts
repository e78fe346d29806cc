import { randomBytes } from "node:crypto";
import request from "supertest";
import { loadConfig } from "../../src/package/config";
import { isCluster } from "../../src/package/redis/client";
import { handleOf } from "../../src/package/session-store/session-record";
import { openBackend } from "../../src/site/backend";
import { appOn, browser, csrfFrom, newAccount, quietMail, SAFARI_IPHONE, signIn, signUp, submit } from "../helpers/app";
import { connectTestRedis, readSession, withState } from "../helpers/stores";
import { connectMasters, masterUrls, redisName, testRedisEnv, topology } from "../helpers/topology";

/**
 * The product wired as server.ts wires it, from configuration variables (REDIS_URL,
 * REDIS_CLUSTER_NODES or REDIS_SENTINELS): two devices sign in, list, rename, revoke.
 */
describe(`the product configured for ${redisName()}`, () => {
  test("when two devices sign in, list, revoke, rename and see activity, then it all works", async () => {
    const config = loadConfig({ ...testRedisEnv(), SESSION_SECRET: "configured-secret-configured-secret" });
    const backend = await openBackend(config, { events: quietMail });
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
      expect(
        (
          await laptop
            .post(`/settings/sessions/${handle}/revoke`)
            .type("form")
            .send({ _csrf: csrfFrom(page.text) })
        ).status,
      ).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(303);
      expect((await laptop.get("/settings/activity")).text).toContain("Session on <bdi>Mobile Safari on iOS</bdi> signed out");
      expect((await signIn(browser(app), { ...account, password: "wrong password" })).status).toBe(422);
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

describe(`REDIS_WAIT_REPLICAS on ${redisName()}`, () => {
  test("when a session end waits for replicas, then reading other sessions does not wait behind it", async () => {
    // More replicas than any test topology has: each WAIT runs to its timeout.
    const config = loadConfig({ ...testRedisEnv(), SESSION_SECRET: "configured-secret-configured-secret", REDIS_WAIT_REPLICAS: "5" });
    const backend = await openBackend(config, { events: quietMail });
    try {
      const sids = [randomBytes(24).toString("base64url"), randomBytes(24).toString("base64url")];
      const userId = `wait-${randomBytes(4).toString("hex")}`;
      const user = { name: "Wait Walt", email: "w@example.com", role: "user", org: null, ver: 1, cv: 1 };
      for (const sid of sids) {
        await new Promise<void>((resolve, reject) =>
          backend.kit.store.set(sid, withState({ cookie: {} }, { userId, user, credVersion: 1 } as never), (err) => (err ? reject(err) : resolve())),
        );
      }
      const ending = backend.kit.store.endUserSession(userId, handleOf(sids[1])).then(() => "ending answered");
      await untilSomeClientWaits();
      const reading = readSession(backend.kit.store, sids[0]).then((s) => (s ? "page read" : "no session"));
      expect(await Promise.race([ending, reading])).toBe("page read");
      expect(await ending).toBe("ending answered");
      expect(await readSession(backend.kit.store, sids[1])).toBeNull();
    } finally {
      await backend.close();
    }
  });
});

/** Until a client of the test Redis is blocked in WAIT (CLIENT LIST on every master). */
async function untilSomeClientWaits(): Promise<void> {
  const client = await connectTestRedis();
  const nodes = await connectMasters(client);
  try {
    for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
      const lists = await Promise.all(nodes.map((n) => n.clientList()));
      if (lists.flat().some((c) => c.cmd === "wait")) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("no client was seen waiting in WAIT");
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await client.close();
  }
}
