import { spawnSync } from "node:child_process";
import { createClient } from "redis";
import request from "supertest";
import { loadConfig } from "../../src/package/config";
import { handleOf } from "../../src/package/session-store/session-record";
import { type Backend, openBackend } from "../../src/site/backend";
import { appOn, browser, cookieOf, newAccount, quietMail, signedUpCookie, submit } from "../helpers/app";
import { startRedisCluster } from "../helpers/redis-cluster";
import { startRedisSentinel } from "../helpers/redis-sentinel";
import { sleep } from "../helpers/stores";

interface Topology {
  env: Record<string, string>;
  /** Kills the master that holds (some of) the data. */
  killMaster(): void;
  /** That master's replica: stopped (SIGSTOP) and continued (SIGCONT) to make it fall behind. */
  replicaPid(): number;
  masterPort: number;
  /** Whether the topology has a working master again. */
  healthy(): boolean;
  /**
   * That the master was replaced, asked without blocking: the port and command of a node that
   * reports it. (A Cluster says cluster_state:ok right after the kill too, until it notices.)
   */
  healthProbe: { port: number; command: string[]; ok(reply: string): boolean };
  stop(): Promise<void>;
}

const redisCli = (port: number, ...args: string[]) => spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout;

async function cluster(): Promise<Topology> {
  const c = await startRedisCluster();
  // The first master's replica, once the cluster lists it (it may take a moment after start).
  const replicaPort = () => {
    const id = redisCli(c.nodes[0].port, "cluster", "myid").trim();
    for (let tries = 0; tries < 100; tries++) {
      const line = redisCli(c.nodes[0].port, "cluster", "nodes")
        .split("\n")
        .find((l) => l.includes(`slave ${id}`));
      if (line) return Number(/:(\d+)@/.exec(line)![1]);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    throw new Error("the first master has no replica listed");
  };
  const promoted = replicaPort();
  return {
    env: { REDIS_CLUSTER_NODES: c.nodes.map((n) => `${n.host}:${n.port}`).join(",") },
    killMaster: () => process.kill(c.nodes[0].pid, "SIGKILL"),
    replicaPid: () => c.nodes.find((n) => n.port === promoted)!.pid,
    masterPort: c.nodes[0].port,
    healthy: () => redisCli(c.nodes[1].port, "cluster", "info").includes("cluster_state:ok"),
    // The moment the replica is promoted: from then on a client can learn where the slots are.
    healthProbe: { port: promoted, command: ["ROLE"], ok: (reply) => reply.startsWith("master") },
    stop: c.stop,
  };
}

async function sentinel(): Promise<Topology> {
  const s = await startRedisSentinel();
  return {
    env: { REDIS_SENTINELS: s.sentinels.map((n) => `${n.host}:${n.port}`).join(","), REDIS_SENTINEL_NAME: s.name },
    killMaster: () => process.kill(s.master.pid, "SIGKILL"),
    replicaPid: () => s.replica.pid,
    masterPort: s.master.port,
    healthy: () => redisCli(s.sentinels[0].port, "sentinel", "get-master-addr-by-name", s.name).includes(String(s.replica.port)),
    healthProbe: { port: s.sentinels[0].port, command: ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name], ok: (reply) => reply.includes(String(s.replica.port)) },
    stop: s.stop,
  };
}

/**
 * Makes the master's replica fall behind, as a slow link or a busy replica does: the replica
 * is stopped and 32 MB written to the master fill the socket buffers between them, so what
 * the master writes next waits in its own memory and dies with it. The replica continues
 * after 300 ms: a write that waits for it (REDIS_WAIT_REPLICAS=1) is answered after that.
 */
async function fallBehind(topology: Topology): Promise<void> {
  const replica = topology.replicaPid();
  process.kill(replica, "SIGSTOP");
  const master = createClient({ url: `redis://127.0.0.1:${topology.masterPort}` });
  master.on("error", () => {});
  await master.connect();
  try {
    // A key this master holds (on a Cluster, any other answers MOVED).
    let key = "";
    for (let i = 0; !key; i++)
      key = await master.get(`filler-${i}`).then(
        () => `filler-${i}`,
        () => "",
      );
    await master.set(key, "x".repeat(32 * 1024 * 1024));
  } finally {
    master.destroy();
  }
  setTimeout(() => process.kill(replica, "SIGCONT"), 300);
}

/**
 * When the topology reports a working master again (a Cluster's cluster_state:ok, the
 * sentinels naming the replica), asked every 20 ms from the moment the master is killed.
 */
function watchHealth(topology: Topology): { at: () => number | undefined; stop(): void } {
  const probe = createClient({ url: `redis://127.0.0.1:${topology.healthProbe.port}` });
  probe.on("error", () => {});
  let at: number | undefined;
  let stopped = false;
  void (async () => {
    await probe.connect();
    while (!stopped && at === undefined) {
      const reply = String(await probe.sendCommand(topology.healthProbe.command).catch(() => ""));
      if (topology.healthProbe.ok(reply)) at = Date.now();
      else await sleep(20);
    }
    probe.destroy();
  })();
  return {
    at: () => at,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * The master is killed under a steady stream of signed-in requests, right after 30 sessions
 * were ended, with its replica in step or behind. Requests may get 503 during the failover;
 * none may be signed out; afterwards every session from before works. An ending answered
 * before the replica had it is lost with the master: measured with REDIS_WAIT_REPLICAS=0,
 * and with 1 allowed only for a write reported as short of replicas.
 */
const CASES = [cluster, sentinel].flatMap((start) =>
  (["in step", "behind"] as const).flatMap((replica) =>
    [0, 1].map((waitReplicas) => ({ name: start === cluster ? "Redis Cluster" : "Redis Sentinel", start, replica, waitReplicas })),
  ),
);

describe.each(CASES)("$name failover, replica $replica, REDIS_WAIT_REPLICAS=$waitReplicas", ({ name, waitReplicas, start, replica }) => {
  const behind = replica === "behind";
  let topology: Topology;
  let backend: Backend;
  afterAll(async () => {
    await backend?.close().catch(() => {});
    await topology?.stop();
  });

  test("when the master dies mid-stream, then nobody is signed out, no session is lost, and no ending is lost unannounced", async () => {
    topology = await start();
    const config = loadConfig({
      ...topology.env,
      REDIS_WAIT_REPLICAS: String(waitReplicas),
      SESSION_SECRET: "failover-secret-failover-secret-failover",
      SIGNIN_LIMIT_PER_IP: "100000",
      SIGNUP_LIMIT_PER_IP: "100000",
    });
    let shortfalls = 0;
    backend = await openBackend(config, { events: { ...quietMail, replicaShortfall: () => shortfalls++ } });
    const app = appOn(config, backend);

    const live: string[] = [];
    const toEnd: Array<{ cookie: string; userId: string; handle: string }> = [];
    for (let i = 0; i < 30; i++) {
      const account = newAccount(`Failover ${i}`);
      live.push(await signedUpCookie(browser(app), account));
      const second = await submit(browser(app), "/login", "/login", { email: account.email, password: account.password });
      const cookie = cookieOf(second)!.split(";")[0];
      const sid = decodeURIComponent(cookie.slice(4)).slice(2).split(".")[0];
      toEnd.push({ cookie, userId: (await backend.users.findByEmail(account.email))!.id, handle: handleOf(sid) });
    }

    const started = Date.now();
    let requests = 0;
    let requestsAfterKill = 0;
    let lastFailureAt = 0;
    let health: ReturnType<typeof watchHealth> | undefined;
    let failed503 = 0;
    let signedOutDuring = 0;
    const otherStatuses: number[] = [];
    let killed = false;
    let quietRounds = 0;
    // Stream until the master is replaced and a few rounds have gone through cleanly.
    while (Date.now() - started < 60_000 && !(killed && quietRounds >= 5)) {
      if (!killed && Date.now() - started > 1000) {
        // Each ending is answered (after WAIT, when asked for), then the master dies at once.
        if (behind) await fallBehind(topology);
        const ended = await Promise.all(toEnd.map((r) => backend.kit.store.endUserSession(r.userId, r.handle)));
        topology.killMaster();
        health = watchHealth(topology);
        killed = true;
        expect(ended.every(Boolean)).toBe(true);
      }
      const failedBefore = failed503;
      await Promise.all(
        live.map(async (cookie) => {
          const res = await request(app).get("/dashboard").set("Cookie", cookie);
          requests++;
          if (killed) requestsAfterKill++;
          if (res.status !== 200) lastFailureAt = Date.now();
          if (res.status === 503) failed503++;
          else if (res.status === 303) signedOutDuring++;
          else if (res.status !== 200) otherStatuses.push(res.status);
        }),
      );
      quietRounds = killed && failed503 === failedBefore && health?.at() !== undefined ? quietRounds + 1 : 0;
      await sleep(100);
    }
    health?.stop();
    expect(topology.healthy()).toBe(true);
    const healthyAt = health?.at();
    expect(healthyAt).toBeDefined();
    // From the moment the topology had a master again to the last request that did not answer 200.
    const recoverySeconds = Math.max(0, lastFailureAt - healthyAt!) / 1000;

    let sessionsLost = 0;
    for (const cookie of live) if ((await request(app).get("/dashboard").set("Cookie", cookie)).status !== 200) sessionsLost++;
    let endsLost = 0;
    for (const { cookie } of toEnd) if ((await request(app).get("/dashboard").set("Cookie", cookie)).status === 200) endsLost++;

    const result = {
      topology: name,
      waitReplicas,
      behind,
      requests,
      failed503,
      share503AfterKill: Number((failed503 / requestsAfterKill).toFixed(3)),
      recoverySeconds,
      signedOutDuring,
      otherStatuses: otherStatuses.length,
      sessionsLost,
      endsLost,
      shortfalls,
      seconds: (Date.now() - started) / 1000,
    };
    process.stdout.write(`failover result: ${JSON.stringify(result)}\n`);
    expect(signedOutDuring).toBe(0);
    expect(otherStatuses).toEqual([]);
    expect(sessionsLost).toBe(0);
    // Replication is asynchronous: only with a replica's acknowledgement is an ending answered
    // just before its master died sure to survive. With 0 the loss is measured, not asserted;
    // with 1, an ending can only be lost if its write was reported as short of replicas.
    if (waitReplicas > 0) expect(endsLost).toBeLessThanOrEqual(shortfalls);
  }, 120_000);
});
