/**
 * npm run bench: the product against plain express-session + connect-redis (the peer) and a
 * bare Express app with no session (the ceiling), then the store at scale. Never part of npm test.
 *
 * On a 2-core machine the load generator would otherwise fight the server for a core: this run
 * pins every server under test to CPU 1 and itself, autocannon and Redis to CPU 0 (taskset),
 * runs one target at a time, and interleaves the rounds (product, peer, ceiling, product, ...)
 * so that drift on a shared machine falls on all three alike. Figures are medians of the rounds.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import autocannon from "autocannon";
import { createClient, type RedisClientType } from "redis";
import { startRedisCluster } from "../test/helpers/redis-cluster";
import { freePort, type RedisServer, startRedisServer } from "../test/helpers/redis-server";
import { measureScale } from "./scale";

const ROOT = path.join(__dirname, "..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const HAS_TASKSET = spawnSync("taskset", ["-V"]).status === 0 && Number(spawnSync("nproc").stdout.toString()) >= 2;
const TSX = createRequire(__filename).resolve("tsx");

interface Target {
  name: string;
  script: string[];
  env: Record<string, string>;
  signIn(base: string): Promise<Record<string, string>>;
  child?: ChildProcess;
  base?: string;
  headers?: Record<string, string>;
  rounds: Array<{ rps: number; p50: number; p99: number; cpuUs: number; redisCpuUs: number }>;
  roundTrips?: { perRequest: number; inLua: number; byCommand: Record<string, number> };
}

/** CPU time (user + system) a process has used, in microseconds; NaN where /proc is missing. */
function cpuTimeUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

function pin(pid: number, cpu: number): void {
  if (HAS_TASKSET) spawnSync("taskset", ["-a", "-cp", String(cpu), String(pid)], { stdio: "ignore" });
}

async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(url, { redirect: "manual" });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every cookie a response sets, as a browser sends them back ("a=1; b=2"). */
function setCookieOf(res: Response): string {
  const set = res.headers.getSetCookie();
  if (set.length === 0) throw new Error(`no cookie from ${res.url} (${res.status})`);
  return set.map((c) => c.split(";")[0]).join("; ");
}

const HTTPS = { "x-forwarded-proto": "https" };

/** Loads a form page of the product and posts it with its CSRF token, as a browser would. */
async function submitForm(base: string, path: string, fields: Record<string, string>): Promise<Response> {
  const form = await fetch(`${base}${path}`, { headers: HTTPS });
  const visitor = setCookieOf(form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  return fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { ...HTTPS, cookie: visitor, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
  });
}

async function productSignIn(base: string): Promise<Record<string, string>> {
  const res = await submitForm(base, "/signup", { name: "Ada Lovelace", email: "ada@example.com", password: "correct horse battery" });
  const headers = { ...HTTPS, cookie: setCookieOf(res) };
  // The first page views store a CSRF token; after that a page view writes nothing.
  for (let i = 0; i < 2; i++) await (await fetch(`${base}/dashboard`, { headers })).text();
  return headers;
}

async function peerSignIn(base: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/login`, { method: "POST", redirect: "manual" });
  return { cookie: setCookieOf(res) };
}

function cannon(url: string, headers: Record<string, string>, options: { duration?: number; amount?: number; connections?: number }) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    const limit = options.amount !== undefined ? { amount: options.amount } : { duration: options.duration };
    autocannon({ url, headers, connections: options.connections ?? CONNECTIONS, ...limit }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function countRoundTrips(redisUrl: string, target: Target, requests: number): Promise<Target["roundTrips"]> {
  const monitor = createClient({ url: redisUrl }) as RedisClientType;
  await monitor.connect();
  const lines: string[] = [];
  await monitor.monitor((line: string) => lines.push(line));
  await new Promise((r) => setTimeout(r, 100));
  const result = await cannon(`${target.base}/dashboard`, target.headers!, { amount: requests, connections: 1 });
  await new Promise((r) => setTimeout(r, 300));
  await monitor.close();
  if (result.non2xx > 0) throw new Error(`${target.name}: ${result.non2xx} answers were not 2xx`);
  const sent = lines.filter((l) => !l.includes("[0 lua]"));
  const byCommand: Record<string, number> = {};
  for (const l of sent) {
    const name = (/"(\w+)"/.exec(l)?.[1] ?? "?").toUpperCase();
    byCommand[name] = (byCommand[name] ?? 0) + 1;
  }
  return { perRequest: sent.length / requests, inLua: (lines.length - sent.length) / requests, byCommand };
}

/** The Redis server's own CPU time so far (user + system, `INFO cpu`), in microseconds. */
async function redisCpuTimeUs(client: RedisClientType): Promise<number> {
  const info = await client.info("cpu");
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
}

async function main() {
  pin(process.pid, 0);
  process.stdout.write("building the product...\n");
  const built = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0) throw new Error("build failed");

  const redis: RedisServer = await startRedisServer();
  pin(redis.pid, 0);
  // A 3-master Redis Cluster (a replica each) for the product's cluster run.
  const cluster = await startRedisCluster();
  for (const n of cluster.nodes) pin(n.pid, 0);
  const common = { NODE_ENV: "production", REDIS_URL: redis.url };
  const targets: Target[] = [
    {
      name: "product",
      script: [path.join(ROOT, "dist", "site", "server.js")],
      env: {
        ...common,
        SESSION_SECRET: "bench-secret-bench-secret-bench-secret",
        TRUST_PROXY: "1",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        SIGNIN_LIMIT_PER_IP: "1000000",
        SIGNIN_LIMIT_PER_ACCOUNT: "1000000",
        SIGNIN_CHECKS_PER_IP: "1000000",
        SIGNIN_CHECKS_PER_ACCOUNT: "1000000",
        SIGNUP_LIMIT_PER_IP: "1000000",
      },
      signIn: productSignIn,
      rounds: [],
    },
    { name: "peer", script: ["--import", TSX, path.join(__dirname, "peer-app.ts")], env: common, signIn: peerSignIn, rounds: [] },
    { name: "ceiling", script: ["--import", TSX, path.join(__dirname, "ceiling-app.ts")], env: common, signIn: async () => ({}), rounds: [] },
    {
      name: "product on Redis Cluster",
      script: [path.join(ROOT, "dist", "site", "server.js")],
      env: {
        NODE_ENV: "production",
        REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(","),
        SESSION_SECRET: "bench-secret-bench-secret-bench-secret",
        TRUST_PROXY: "1",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
      },
      signIn: productSignIn,
      rounds: [],
    },
    {
      name: "peer + headers + log",
      script: ["--import", TSX, path.join(__dirname, "peer-app.ts")],
      env: { ...common, PEER_EXTRAS: "1" },
      signIn: peerSignIn,
      rounds: [],
    },
  ];

  try {
    for (const t of targets) {
      const port = await freePort();
      // Request logs go where production sends them, here to /dev/null: written, not read.
      t.child = spawn(process.execPath, t.script, {
        cwd: ROOT,
        env: { ...process.env, ...t.env, PORT: String(port) },
        stdio: ["ignore", openSync("/dev/null", "w"), "inherit"],
      });
      t.base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${t.base}/dashboard`);
      pin(t.child.pid!, 1);
      t.headers = await t.signIn(t.base);
      const check = await fetch(`${t.base}/dashboard`, { headers: t.headers, redirect: "manual" });
      if (check.status !== 200) throw new Error(`${t.name}: the signed-in page answered ${check.status}`);
      await cannon(`${t.base}/dashboard`, t.headers, { duration: 2 }); // warm-up
    }
    // Redis's own CPU for each target's pages, less what it spends idle (its timers) in as long.
    const info = (await createClient({ url: redis.url }).connect()) as RedisClientType;
    const idleBefore = await redisCpuTimeUs(info);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const idleUs = (await redisCpuTimeUs(info)) - idleBefore;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const cpuBefore = cpuTimeUs(t.child!.pid!);
        const redisBefore = await redisCpuTimeUs(info);
        const r = await cannon(`${t.base}/dashboard`, t.headers!, { duration: SECONDS });
        const cpuUs = (cpuTimeUs(t.child!.pid!) - cpuBefore) / r.requests.total;
        // The cluster target's Redis is the cluster, not this server: not counted here.
        const redisCpuUs = t.name.includes("Cluster") ? Number.NaN : Math.max(0, (await redisCpuTimeUs(info)) - redisBefore - idleUs) / r.requests.total;
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        t.rounds.push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs, redisCpuUs });
        process.stdout.write(`round ${round} ${t.name}: ${r.requests.average.toFixed(0)} req/s\n`);
      }
    }
    // MONITOR watches one server, so the cluster run is not counted here (its commands are the same).
    for (const t of targets.filter((x) => x.name !== "ceiling" && !x.name.includes("Cluster"))) t.roundTrips = await countRoundTrips(redis.url, t, 2000);

    const [product, peer, ceiling, productOnCluster, peerPlus] = targets.map((t) => ({
      ...t,
      rps: median(t.rounds.map((r) => r.rps)),
      p50: median(t.rounds.map((r) => r.p50)),
      p99: median(t.rounds.map((r) => r.p99)),
      cpuUs: median(t.rounds.map((r) => r.cpuUs)),
      redisCpuUs: median(t.rounds.map((r) => r.redisCpuUs)),
    }));
    await info.close();
    const rows = [product, peer, ceiling, productOnCluster, peerPlus].map((t) => [
      t.name,
      t.rps.toFixed(0),
      t.cpuUs.toFixed(0),
      t.p50.toFixed(1),
      t.p99.toFixed(1),
      Number.isNaN(t.redisCpuUs) ? "not counted" : t.redisCpuUs.toFixed(2),
      t.roundTrips
        ? `${t.roundTrips.perRequest.toFixed(3)} (${Object.entries(t.roundTrips.byCommand)
            .map(([c, n]) => `${c} ${n}`)
            .join(", ")})`
        : t.name.includes("Cluster")
          ? "as product (not counted)"
          : "0",
    ]);
    const header = [
      "signed-in GET /dashboard",
      "req/s",
      "server CPU µs/req",
      "p50 ms",
      "p99 ms",
      "Redis CPU µs/req",
      "Redis round trips per request (commands in 2,000 requests)",
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    console.log(
      `\nThroughput: ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, medians${HAS_TASKSET ? "; servers on CPU 1, load and Redis on CPU 0" : ""}\n`,
    );
    console.log(line(header));
    console.log(line(widths.map((w) => "-".repeat(w))));
    for (const r of rows) console.log(line(r));
    console.log(
      `\nproduct / peer: ${(product.rps / peer.rps).toFixed(2)} in req/s, ${(peer.cpuUs / product.cpuUs).toFixed(2)} in CPU per request (target >= 1.2)`,
    );
    console.log(
      `product / ceiling: ${(product.rps / ceiling.rps).toFixed(2)} in req/s, ${(ceiling.cpuUs / product.cpuUs).toFixed(2)} in CPU per request (target >= 0.8)`,
    );
    console.log(
      `product / (peer + the product's headers and log line): ${(peerPlus.cpuUs / product.cpuUs).toFixed(2)} in CPU per request (analysis: the session layers alone)`,
    );
    const perCore = (us: number) => (us > 0 ? `${Math.round(1e6 / us).toLocaleString("en")} pages/s` : "not measurable (no Redis work per page)");
    console.log(
      `Redis CPU per 1,000 signed-in pages: product ${product.redisCpuUs.toFixed(2)} ms, peer ${peer.redisCpuUs.toFixed(2)} ms; one Redis core serves the product ${perCore(product.redisCpuUs)}, the peer ${perCore(peer.redisCpuUs)}`,
    );
    console.log(
      `product round trips per signed-in request: ${product.roundTrips!.perRequest.toFixed(3)} (target <= 1.05); commands run inside its scripts: ${product.roundTrips!.inLua.toFixed(3)} per request`,
    );

    const signIns = await measureSignIns(product.base!);
    console.log(`\nsign-ins per second (scrypt N=2^16, r=8, p=2, the product's cost; server on one core): ${signIns.toFixed(1)}`);
  } finally {
    // The servers stop before their Redis does, so they shut down cleanly.
    await Promise.all(
      targets.map((t) =>
        t.child && t.child.exitCode === null
          ? new Promise((r) => {
              t.child!.once("exit", r);
              t.child!.kill("SIGTERM");
            })
          : null,
      ),
    );
    await redis.stop();
    await cluster.stop();
  }

  await measureScale();
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
  console.error(err);
  process.exit(1);
});
