/**
 * npm run bench: the product against plain express-session + connect-redis (the peer) and a
 * bare Express app with no session (the ceiling), then the store at scale. Never part of npm test.
 *
 * On a 2-core machine the load generator would otherwise fight the server for a core: this run
 * pins every server under test to CPU 1 and itself, the load generator and Redis to CPU 0
 * (taskset), runs one target at a time, and interleaves the rounds (product, peer, ceiling,
 * product, ...) so that drift on a shared machine falls on all alike. Figures are medians.
 *
 * BENCH_PARTS picks parts (default all): switch (Express's examples/auth moving from
 * connect-redis, bench/switch.ts), throughput (autocannon, Redis CPU, round trips), wrk (16 and
 * 64 connections), remote (Redis across a 1 ms and a 4 ms link), profile (by layer, side by
 * side), signins, scale.
 */
import { createClient, type RedisClientType } from "redis";
import { startRedisCluster } from "../test/helpers/redis-cluster";
import { type RedisServer, startRedisServer } from "../test/helpers/redis-server";
import { HAS_WRK, median, table, withAutocannon, withWrk } from "./load";
import { type Measured, measure } from "./measure";
import { profileSideBySide } from "./profile";
import { remoteRedisLatency } from "./remote-redis";
import { measureScale } from "./scale";
import { measureSwitch, profileSwitch, SWITCH_PROFILE_TITLE } from "./switch";
import { buildProduct, pin, type RunningTarget, startTarget, stopMail, submitForm, type TargetName } from "./targets";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WRK_CONNECTIONS = (process.env.BENCH_WRK_CONNECTIONS ?? "16,64").split(",").map(Number);
const PARTS = new Set((process.env.BENCH_PARTS ?? "switch,throughput,wrk,remote,profile,signins,scale").split(","));
const PINNED = "servers on CPU 1, load and Redis on CPU 0";
const NAMES: TargetName[] = ["product", "peer", "ceiling", "product on Redis Cluster", "peer + headers + log"];

/** The table of one measurement and the ratios the targets are stated in. */
function report(title: string, measured: Measured[], roundTrips?: Map<string, RoundTrips>): string {
  const of = (name: TargetName) => measured.find((m) => m.target.name === name)!;
  const [product, peer, ceiling, peerPlus] = (["product", "peer", "ceiling", "peer + headers + log"] as const).map(of);
  const rows = measured.map((m) => {
    const trips = roundTrips?.get(m.target.name);
    const row = [
      m.target.name,
      m.rps.toFixed(0),
      m.cpuUs.toFixed(0),
      m.p50.toFixed(2),
      m.p99.toFixed(2),
      Number.isNaN(m.redisCpuUs) ? "not counted" : m.redisCpuUs.toFixed(2),
    ];
    if (roundTrips)
      row.push(
        trips
          ? `${trips.perRequest.toFixed(3)} (${Object.entries(trips.byCommand)
              .map(([c, n]) => `${c} ${n}`)
              .join(", ")})`
          : m.target.name.includes("Cluster")
            ? "as product (not counted)"
            : "0",
      );
    return row;
  });
  const header = ["signed-in GET /dashboard", "req/s", "server CPU µs/req", "p50 ms", "p99 ms", "Redis CPU µs/req"];
  if (roundTrips) header.push("Redis round trips per request (commands in 2,000 requests)");
  const perCore = (us: number) => (us > 0.005 ? `${Math.round(1e6 / us).toLocaleString("en")} pages/s` : "not measurable (no Redis work per page)");
  return [
    `\n${title}\n`,
    table(header, rows),
    "",
    ratioLine("product / peer", product, peer, "target >= 1.0 in every table"),
    ratioLine("product / ceiling", product, ceiling, "target >= 0.55"),
    ratioLine("product / (peer + the product's headers and log line)", product, peerPlus, "target >= 1.0 in CPU"),
    `Redis CPU per 1,000 signed-in pages: product ${product.redisCpuUs.toFixed(2)} ms, peer ${peer.redisCpuUs.toFixed(2)} ms; one Redis core serves the product ${perCore(product.redisCpuUs)}, the peer ${perCore(peer.redisCpuUs)}`,
  ].join("\n");
}

/**
 * A ratio in requests per second and in CPU per request (higher is better for the product in
 * both), from the medians, and the median of the ratios taken round by round: rounds run one
 * right after another, so a round's ratio is the least touched by the machine's drift.
 */
function ratioLine(name: string, product: Measured, other: Measured, target: string): string {
  const rounds = product.byRound.map((r, i) => ({ rps: r.rps / other.byRound[i].rps, cpu: other.byRound[i].cpuUs / r.cpuUs }));
  const perRound = `${median(rounds.map((r) => r.rps)).toFixed(2)} and ${median(rounds.map((r) => r.cpu)).toFixed(2)} as the median of each round's ratio`;
  return `${name}: ${(product.rps / other.rps).toFixed(2)} in req/s, ${(other.cpuUs / product.cpuUs).toFixed(2)} in CPU per request (${perRound}; ${target})`;
}

interface RoundTrips {
  perRequest: number;
  inLua: number;
  byCommand: Record<string, number>;
}

/** Every command a target sends in `requests` page views, one connection at a time, from MONITOR. */
async function countRoundTrips(redisUrl: string, target: RunningTarget, requests: number): Promise<RoundTrips> {
  const monitor = createClient({ url: redisUrl }) as RedisClientType;
  await monitor.connect();
  const lines: string[] = [];
  await monitor.monitor((line: string) => lines.push(line));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${target.base}${target.page}`, { headers: target.headers, redirect: "manual" });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${target.name}: a page answered ${res.status}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  await monitor.close();
  const sent = lines.filter((l) => !l.includes("[0 lua]"));
  const byCommand: Record<string, number> = {};
  for (const l of sent) {
    const name = (/"(\w+)"/.exec(l)?.[1] ?? "?").toUpperCase();
    byCommand[name] = (byCommand[name] ?? 0) + 1;
  }
  return { perRequest: sent.length / requests, inLua: (lines.length - sent.length) / requests, byCommand };
}

/** The run's tables, printed together at the end (or when a part fails, those measured before it). */
const out: string[] = [];

async function main() {
  pin(process.pid, 0);
  process.stdout.write("building the product...\n");
  buildProduct();

  const redis: RedisServer = await startRedisServer();
  pin(redis.pid, 0);
  const cluster = PARTS.has("throughput") ? await startRedisCluster() : undefined;
  for (const n of cluster?.nodes ?? []) pin(n.pid, 0);
  const where = { url: redis.url, clusterNodes: cluster?.nodes.map((n) => `${n.host}:${n.port}`).join(",") };
  if (PARTS.has("switch")) {
    out.push(await measureSwitch(redis));
    process.stdout.write("the switch, profiles:\n");
    out.push(`\nWhere the switched site's page CPU goes: ${SWITCH_PROFILE_TITLE}\n`, await profileSwitch(redis.url));
  }
  const targets: RunningTarget[] = [];
  try {
    for (const name of NAMES.filter((n) => cluster || !n.includes("Cluster"))) {
      const t = await startTarget(name, where, { cpu: 1 });
      targets.push(t);
      await withAutocannon({ url: `${t.base}${t.page}`, headers: t.headers, connections: CONNECTIONS, seconds: 2 }); // warm-up
    }
    if (PARTS.has("throughput")) {
      process.stdout.write(`autocannon, ${CONNECTIONS} connections:\n`);
      const measured = await measure(targets, redis.url, withAutocannon, { connections: CONNECTIONS, rounds: ROUNDS, seconds: SECONDS });
      // MONITOR watches one server, so the cluster run is not counted (its commands are the same).
      const roundTrips = new Map<string, RoundTrips>();
      for (const t of targets.filter((x) => x.name !== "ceiling" && !x.name.includes("Cluster")))
        roundTrips.set(t.name, await countRoundTrips(redis.url, t, 2000));
      const product = roundTrips.get("product")!;
      out.push(
        report(`Throughput (autocannon): ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, medians; ${PINNED}`, measured, roundTrips),
        `product round trips per signed-in request: ${product.perRequest.toFixed(3)} (target <= 0.01); commands run inside its scripts: ${product.inLua.toFixed(3)} per request`,
      );
    }
    if (PARTS.has("wrk")) {
      if (!HAS_WRK) out.push("\nwrk is not installed (apt-get install wrk): the wrk tables are left out.");
      else {
        const local = targets.filter((t) => !t.name.includes("Cluster"));
        for (const connections of WRK_CONNECTIONS) {
          process.stdout.write(`wrk, ${connections} connections:\n`);
          const measured = await measure(local, redis.url, withWrk, { connections, rounds: ROUNDS, seconds: SECONDS });
          out.push(
            report(`Throughput (wrk, one thread): ${ROUNDS} interleaved rounds of ${SECONDS} s, ${connections} connections, medians; ${PINNED}`, measured),
          );
        }
      }
    }
    if (PARTS.has("signins")) {
      const signIns = await measureSignIns(targets[0].base);
      out.push(`\nsign-ins per second (scrypt N=2^16, r=8, p=2, the product's cost; server on one core): ${signIns.toFixed(1)}`);
    }
  } finally {
    // The servers stop before their Redis does, so they shut down cleanly.
    for (const t of targets) await t.stop();
    await cluster?.stop();
  }
  try {
    if (PARTS.has("remote")) {
      process.stdout.write("Redis across a link:\n");
      const latency = await remoteRedisLatency(redis.port, ROUNDS, SECONDS);
      out.push(
        `\nRedis across a link (a proxy holds each command for the round trip): ${ROUNDS} interleaved rounds of ${SECONDS} s, ${HAS_WRK ? "wrk" : "autocannon"}, medians; ${PINNED}, the proxy too\n`,
        latency,
      );
    }
    if (PARTS.has("profile")) {
      process.stdout.write("profiles:\n");
      const profile = await profileSideBySide(redis.url);
      out.push(
        "\nWhere a signed-in page's CPU goes: V8's CPU profile of each server during 30,000 requests (autocannon, 10 connections), self time by layer\n",
        profile,
      );
    }
  } finally {
    await redis.stop();
    await stopMail();
  }
  console.log(out.join("\n"));
  if (PARTS.has("scale")) await measureScale();
}

/** Full HTTP sign-ins (form, CSRF token, password check, new session) for 10 s, 4 at a time. */
async function measureSignIns(base: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const res = await submitForm(base, "/login", { email: "ada@example.com", password: "correct horse battery" });
      if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
      done++;
    }
  };
  const started = Date.now();
  await Promise.all([worker(), worker(), worker(), worker()]);
  return done / ((Date.now() - started) / 1000);
}

main().catch((err) => {
  // What was measured before a part failed is printed all the same.
  console.log(out.join("\n"));
  console.error(err);
  process.exit(1);
});
