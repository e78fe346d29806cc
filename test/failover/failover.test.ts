import { spawnSync } from "node:child_process";
import request from "supertest";
import { type Backend, openBackend } from "../../src/backend";
import { loadConfig } from "../../src/config";
import { handleOf } from "../../src/session-store/session-record";
import { appOn, browser, cookieOf, newAccount, submit } from "../helpers/app";
import { startRedisCluster } from "../helpers/redis-cluster";
import { startRedisSentinel } from "../helpers/redis-sentinel";
import { sleep } from "../helpers/stores";

interface Topology {
  env: Record<string, string>;
  /** Kills the master that holds (some of) the data. */
  killMaster(): void;
  /** Whether the topology has a working master again. */
  healthy(): boolean;
  stop(): Promise<void>;
}

const redisCli = (port: number, ...args: string[]) => spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout;

async function cluster(): Promise<Topology> {
  const c = await startRedisCluster();
  return {
    env: { REDIS_CLUSTER_NODES: c.nodes.map((n) => `${n.host}:${n.port}`).join(",") },
    killMaster: () => process.kill(c.nodes[0].pid, "SIGKILL"),
    healthy: () => redisCli(c.nodes[1].port, "cluster", "info").includes("cluster_state:ok"),
    stop: c.stop,
  };
}

async function sentinel(): Promise<Topology> {
  const s = await startRedisSentinel();
  return {
    env: { REDIS_SENTINELS: s.sentinels.map((n) => `${n.host}:${n.port}`).join(","), REDIS_SENTINEL_NAME: s.name },
    killMaster: () => process.kill(s.master.pid, "SIGKILL"),
    healthy: () => redisCli(s.sentinels[0].port, "sentinel", "get-master-addr-by-name", s.name).includes(String(s.replica.port)),
    stop: s.stop,
  };
}

/**
 * The master is killed under a steady stream of signed-in requests, right after 30 sessions
 * were ended. Requests may get 503 during the failover; none may be signed out; afterwards
 * every session from before works, and (with a replica's acknowledgement) every ending holds.
 */
describe.each([
  ["Redis Cluster", 0, cluster],
  ["Redis Cluster", 1, cluster],
  ["Redis Sentinel", 0, sentinel],
  ["Redis Sentinel", 1, sentinel],
] as const)("%s failover with REDIS_WAIT_REPLICAS=%i", (name, waitReplicas, start) => {
  let topology: Topology;
  let backend: Backend;
  afterAll(async () => {
    await backend?.close().catch(() => {});
    await topology?.stop();
  });

  test("when the master dies mid-stream, then nobody is signed out and nothing from before is lost", async () => {
    topology = await start();
    const config = loadConfig({
      ...topology.env,
      REDIS_WAIT_REPLICAS: String(waitReplicas),
      SESSION_SECRET: "failover-secret-failover-secret-failover",
      SIGNIN_LIMIT_PER_IP: "100000",
    });
    backend = await openBackend(config);
    const app = appOn(config, backend);

    const live: string[] = [];
    const toRevoke: Array<{ cookie: string; userId: string; handle: string }> = [];
    for (let i = 0; i < 30; i++) {
      const account = newAccount(`Failover ${i}`);
      const res = await submit(browser(app), "/signup", "/signup", account);
      live.push(cookieOf(res)!.split(";")[0]);
      const second = await submit(browser(app), "/login", "/login", { email: account.email, password: account.password });
      const cookie = cookieOf(second)!.split(";")[0];
      const sid = decodeURIComponent(cookie.slice(4)).slice(2).split(".")[0];
      toRevoke.push({ cookie, userId: (await backend.users.findByEmail(account.email))!.id, handle: handleOf(sid) });
    }

    const started = Date.now();
    let requests = 0;
    let failed503 = 0;
    let signedOutDuring = 0;
    let killed = false;
    let quietRounds = 0;
    // Stream until the master is replaced and a few rounds have gone through cleanly.
    while (Date.now() - started < 60_000 && !(killed && quietRounds >= 5)) {
      if (!killed && Date.now() - started > 1000) {
        // Each ending is answered (after WAIT, when asked for), then the master dies at once.
        const ended = await Promise.all(toRevoke.map((r) => backend.sessions.revokeUserSession(r.userId, r.handle)));
        topology.killMaster();
        killed = true;
        expect(ended.every(Boolean)).toBe(true);
      }
      const failedBefore = failed503;
      await Promise.all(
        live.map(async (cookie) => {
          const res = await request(app).get("/dashboard").set("Cookie", cookie);
          requests++;
          if (res.status === 503) failed503++;
          else if (res.status !== 200) signedOutDuring++;
        }),
      );
      quietRounds = killed && failed503 === failedBefore && topology.healthy() ? quietRounds + 1 : 0;
      await sleep(100);
    }
    expect(topology.healthy()).toBe(true);

    let sessionsLost = 0;
    for (const cookie of live) if ((await request(app).get("/dashboard").set("Cookie", cookie)).status !== 200) sessionsLost++;
    let revocationsLost = 0;
    for (const { cookie } of toRevoke) if ((await request(app).get("/dashboard").set("Cookie", cookie)).status === 200) revocationsLost++;

    const result = { topology: name, waitReplicas, requests, failed503, signedOutDuring, sessionsLost, revocationsLost, seconds: (Date.now() - started) / 1000 };
    process.stdout.write(`failover result: ${JSON.stringify(result)}\n`);
    expect(signedOutDuring).toBe(0);
    expect(sessionsLost).toBe(0);
    // Replication is asynchronous: only with a replica's acknowledgement is an ending answered
    // just before its master died sure to survive. With 0 the loss is measured, not asserted.
    if (waitReplicas > 0) expect(revocationsLost).toBe(0);
  }, 120_000);
});
