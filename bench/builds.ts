/**
 * Two or more builds of the product side by side: npm run bench:builds -- DIST_A DIST_B ...
 * (each a built `dist` directory, for example one from `git worktree add ../base <commit>`
 * followed by `npm ci && npm run build` there). Each build serves the same signed-in dashboard
 * from its own process on CPU 1, against one throwaway Redis; wrk (16 connections, one thread,
 * on CPU 0) drives them in 5 interleaved rounds of 5 s. Prints server CPU per request and
 * requests per second, medians. Needs Debian's `wrk`.
 */
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import path from "node:path";
import { freePort, startRedisServer } from "../test/helpers/redis-server";
import { HAS_WRK, median, table, withWrk } from "./load";
import { cpuTimeUs, pin, submitForm } from "./targets";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

async function main() {
  const dists = process.argv.slice(2).map((d) => path.resolve(d));
  if (dists.length < 2 || !HAS_WRK) throw new Error("usage: npm run bench:builds -- DIST_A DIST_B ... (needs wrk: apt-get install wrk)");
  pin(process.pid, 0);
  const redis = await startRedisServer();
  pin(redis.pid, 0);
  const builds: Array<{ dist: string; base: string; headers: Record<string, string>; pid: number; cpu: number[]; rps: number[]; stop(): void }> = [];
  try {
    for (const [i, dist] of dists.entries()) {
      const port = await freePort();
      const child = spawn(process.execPath, [path.join(dist, "site", "server.js")], {
        env: {
          ...process.env,
          NODE_ENV: "production",
          REDIS_URL: redis.url,
          SESSION_SECRET: "bench-secret-bench-secret-bench-secret",
          TRUST_PROXY: "1",
          HOST: "127.0.0.1",
          PORT: String(port),
        },
        stdio: ["ignore", openSync("/dev/null", "w"), "inherit"],
      });
      builds.push({ dist, base: `http://127.0.0.1:${port}`, headers: {}, pid: child.pid!, cpu: [], rps: [], stop: () => child.kill("SIGTERM") });
      const build = builds[i];
      for (let tries = 0; ; tries++) {
        if (child.exitCode !== null) throw new Error(`${dist}: the server exited (${child.exitCode}); is it a build inside a checkout with its node_modules?`);
        try {
          await fetch(`${build.base}/healthz`);
          break;
        } catch (err) {
          if (tries > 300) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      pin(child.pid!, 1);
      // One account per build (the builds share the Redis).
      const res = await submitForm(build.base, "/signup", { name: "Ada Lovelace", email: `ada${i}@example.com`, password: "correct horse battery" });
      build.headers = {
        "x-forwarded-proto": "https",
        cookie: res.headers
          .getSetCookie()
          .map((c) => c.split(";")[0])
          .join("; "),
      };
      const page = await fetch(`${build.base}/dashboard`, { headers: build.headers, redirect: "manual" });
      if (page.status !== 200) throw new Error(`${dist}: the signed-in page answered ${page.status}`);
      await withWrk({ url: `${build.base}/dashboard`, headers: build.headers, connections: 16, seconds: 2 }); // warm-up
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const build of builds) {
        const before = cpuTimeUs(build.pid);
        const r = await withWrk({ url: `${build.base}/dashboard`, headers: build.headers, connections: 16, seconds: SECONDS });
        if (r.failures > 0) throw new Error(`${build.dist}: ${r.failures} requests failed`);
        build.cpu.push((cpuTimeUs(build.pid) - before) / r.requests);
        build.rps.push(r.rps);
      }
    }
    console.log(`\nsigned-in GET /dashboard, wrk 16 connections, ${ROUNDS} interleaved rounds of ${SECONDS} s, medians\n`);
    console.log(
      table(
        ["build", "server CPU µs/req", "req/s"],
        builds.map((b) => [b.dist, median(b.cpu).toFixed(0), median(b.rps).toFixed(0)]),
      ),
    );
  } finally {
    for (const b of builds) b.stop();
    await new Promise((r) => setTimeout(r, 500));
    await redis.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
