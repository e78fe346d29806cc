/**
 * What a page costs a site that switches from connect-redis to the package, measured in that
 * site: Express's examples/auth (bench/switch-site.ts) on connect-redis, with the package's
 * store alone, and with store, track() and router, each NODE_ENV=production on one Redis,
 * signed in as "tj", asking for its signed-in page (GET /restricted).
 *
 * - CPU: wrk, one thread, 16 connections, interleaved rounds, servers pinned to CPU 1 and wrk
 *   and Redis to CPU 0; the median of each round's ratio to connect-redis, in req/s and in
 *   server CPU per request.
 * - Latency: the same behind a proxy that holds each Redis command for 1 ms, one connection (a
 *   page's own time, no queueing): p50 and p90, and the floor's (the same site with no session
 *   layer), which is this machine's own: what a session layer adds is read above it.
 * - Where the time goes: V8's CPU profile of each during the load, self time by layer.
 *
 * npm run bench:switch   (builds first; a throwaway redis-server; EXPRESS_REPO names a checkout
 * of expressjs/express, else it is cloned once into bench/.sites). BENCH_ROUNDS (5),
 * BENCH_SECONDS (5), BENCH_SWITCH_RUNS (2: whole runs, each with its own servers).
 */
import { startRedisServer } from "../test/helpers/redis-server";
import { HAS_WRK, type LoadResult, median, table, withWrk } from "./load";
import { type Measured, measure } from "./measure";
import { profileTargets } from "./profile";
import { delayingProxy } from "./remote-redis";
import { SWITCH_VARIANTS, type SwitchVariant, switchSiteCommit, writeSwitchSite } from "./switch-site";
import { buildProduct, pin, type RunningTarget, startServer } from "./targets";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RUNS = Number(process.env.BENCH_SWITCH_RUNS ?? 2);
const PAGE = "/restricted";
const SECRET = "bench-secret-bench-secret-bench-secret";

/** Starts the example as `variant` runs it and signs in as its one user. */
function startSite(variant: SwitchVariant, redisUrl: string, options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<RunningTarget> {
  return startServer({
    name: variant,
    script: [writeSwitchSite(variant)],
    env: { NODE_ENV: "production", REDIS_URL: redisUrl, SESSION_SECRET: SECRET, ...options.env },
    cpu: 1,
    nodeArgs: options.nodeArgs,
    page: PAGE,
    // The floor has every request signed in already.
    signIn: variant === "no session (the floor)" ? async () => ({}) : signInAsTj,
  });
}

/** The example's own form: "tj" and "foobar", then its page twice (the first drops the sign-in's message from the session). */
async function signInAsTj(base: string): Promise<Record<string, string>> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const res = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "username=tj&password=foobar",
  });
  keep(res);
  if (res.status !== 302 || jar.size === 0) throw new Error(`the example's sign-in answered ${res.status} with ${jar.size} cookies`);
  for (let i = 0; i < 2; i++) {
    const page = await fetch(`${base}${PAGE}`, { headers: { cookie: cookie() }, redirect: "manual" });
    keep(page);
    if (!(await page.text()).includes("Wahoo!")) throw new Error(`the example's signed-in page answered ${page.status}`);
  }
  return { cookie: cookie() };
}

/** The medians of the rounds' ratios to connect-redis: req/s, and CPU per request (higher is better for the package in both). */
function ratios(of: Measured, peer: Measured): { rps: number; cpu: number } {
  return {
    rps: median(of.byRound.map((r, i) => r.rps / peer.byRound[i].rps)),
    cpu: median(of.byRound.map((r, i) => peer.byRound[i].cpuUs / r.cpuUs)),
  };
}

async function cpuRun(redisUrl: string): Promise<Measured[]> {
  const targets: RunningTarget[] = [];
  try {
    for (const variant of SWITCH_VARIANTS) {
      const t = await startSite(variant, redisUrl);
      targets.push(t);
      await withWrk({ url: `${t.base}${t.page}`, headers: t.headers, connections: 16, seconds: 2 }); // warm-up
    }
    return await measure(targets, redisUrl, withWrk, { connections: 16, rounds: ROUNDS, seconds: SECONDS });
  } finally {
    for (const t of targets) await t.stop();
  }
}

/** One connection behind a 1 ms link: each variant's p50 and p90, medians of interleaved rounds. */
async function latencyRun(redisPort: number): Promise<Map<SwitchVariant, { p50: number; p90: number }>> {
  const proxy = await delayingProxy(redisPort, 1);
  const targets: RunningTarget[] = [];
  try {
    for (const variant of SWITCH_VARIANTS) targets.push(await startSite(variant, proxy.url));
    const results = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const r = await withWrk({ url: `${t.base}${t.page}`, headers: t.headers, connections: 1, seconds: SECONDS });
        if (r.failures > 0) throw new Error(`${t.name} behind a 1 ms link: ${r.failures} failed requests (${r.failureDetail})`);
        results.get(t.name)!.push(r);
      }
    }
    return new Map(SWITCH_VARIANTS.map((v) => [v, { p50: median(results.get(v)!.map((r) => r.p50)), p90: median(results.get(v)!.map((r) => r.p90)) }]));
  } finally {
    for (const t of targets) await t.stop();
    await proxy.close();
  }
}

/** The table docs/benchmarks.md leads with: a row per variant and run. */
export async function measureSwitch(redis: { url: string; port: number }): Promise<string> {
  if (!HAS_WRK) return "wrk is not installed (apt-get install wrk): the switch table is left out.";
  const rows: string[][] = [];
  for (let run = 1; run <= RUNS; run++) {
    process.stdout.write(`the switch, run ${run} of ${RUNS}: CPU\n`);
    const measured = await cpuRun(redis.url);
    process.stdout.write(`the switch, run ${run} of ${RUNS}: latency behind a 1 ms link\n`);
    const latency = await latencyRun(redis.port);
    const peer = measured[0];
    const peerLatency = latency.get("connect-redis")!;
    const floor = latency.get("no session (the floor)")!;
    // What the session layer adds to the page's time, over the machine's own: the floor's.
    const aboveFloor = (of: { p50: number; p90: number }) =>
      `${((of.p50 - floor.p50) / (peerLatency.p50 - floor.p50)).toFixed(2)} / ${((of.p90 - floor.p90) / (peerLatency.p90 - floor.p90)).toFixed(2)}`;
    for (const m of measured) {
      const variant = m.target.name as SwitchVariant;
      const ofVariant = latency.get(variant)!;
      const r = ratios(m, peer);
      const isPeer = variant === "connect-redis";
      const isFloor = variant === "no session (the floor)";
      rows.push([
        String(run),
        variant,
        m.rps.toFixed(0),
        m.cpuUs.toFixed(0),
        isPeer ? "1 (the peer)" : `${r.rps.toFixed(2)} / ${r.cpu.toFixed(2)}`,
        `${ofVariant.p50.toFixed(2)} / ${ofVariant.p90.toFixed(2)}`,
        isPeer ? "1 (the peer)" : `${(ofVariant.p50 / peerLatency.p50).toFixed(2)} / ${(ofVariant.p90 / peerLatency.p90).toFixed(2)}`,
        isPeer ? "1 (the peer)" : isFloor ? "0 (the floor)" : aboveFloor(ofVariant),
      ]);
    }
  }
  return [
    `\nA site switching from connect-redis: Express's examples/auth (expressjs/express ${switchSiteCommit()}), NODE_ENV=production, signed-in GET ${PAGE}`,
    `CPU: wrk, one thread, 16 connections, ${ROUNDS} interleaved rounds of ${SECONDS} s, servers on CPU 1, wrk and Redis on CPU 0; latency: one connection, Redis behind a 1 ms link\n`,
    table(
      [
        "run",
        "the site with",
        "req/s",
        "server CPU µs/req",
        "× connect-redis: req/s / CPU (median of rounds' ratios; target store ≥ 1.1, with track() ≥ 1.0)",
        "1 ms link, 1 connection: p50 / p90 ms",
        "× connect-redis (target ≤ 0.5)",
        "time over the floor's, × connect-redis's: p50 / p90",
      ],
      rows,
    ),
  ].join("\n");
}

export const SWITCH_PROFILE_TITLE =
  "V8's CPU profile of each site during 30,000 signed-in GET /restricted (autocannon, 10 connections, five interleaved rounds), self time by layer";

/** Where each variant's CPU goes, by layer, during signed-in page views. */
export async function profileSwitch(redisUrl: string, requests = 30_000): Promise<string> {
  return profileTargets(
    ["store + track() + router", "store", "connect-redis"],
    (variant, nodeArgs, env) => startSite(variant as SwitchVariant, redisUrl, { nodeArgs, env }),
    requests,
  );
}

async function main() {
  pin(process.pid, 0);
  process.stdout.write("building the package...\n");
  buildProduct();
  const redis = await startRedisServer();
  pin(redis.pid, 0);
  try {
    const switchTable = await measureSwitch(redis);
    process.stdout.write("profiles:\n");
    const profile = await profileSwitch(redis.url);
    console.log(switchTable);
    console.log(`\nWhere the page's CPU goes: ${SWITCH_PROFILE_TITLE}\n`);
    console.log(profile);
  } finally {
    await redis.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
