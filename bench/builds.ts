/**
 * Two or more builds of the product side by side: npm run bench:builds -- DIST_A DIST_B ...
 * (each a built `dist` directory, for example one from `git worktree add ../base <commit>`
 * followed by `npm ci && npm run build` there). Each build serves the same signed-in dashboard
 * from its own process on CPU 1, against one throwaway Redis; wrk (16 connections, one thread,
 * on CPU 0) drives them in 5 interleaved rounds of 5 s. Prints server CPU per request and
 * requests per second, medians. Needs Debian's `wrk`.
 */
import path from "node:path";
import { startRedisServer } from "../test/helpers/redis-server";
import { HAS_WRK, table, withWrk } from "./load";
import { measure } from "./measure";
import { pin, type RunningTarget, startTarget, stopMail } from "./targets";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

async function main() {
  const dists = process.argv.slice(2).map((d) => path.resolve(d));
  if (dists.length < 2 || !HAS_WRK) throw new Error("usage: npm run bench:builds -- DIST_A DIST_B ... (needs wrk: apt-get install wrk)");
  pin(process.pid, 0);
  const redis = await startRedisServer();
  pin(redis.pid, 0);
  const builds: RunningTarget[] = [];
  try {
    for (const [i, dist] of dists.entries()) {
      // The builds share the Redis, each with an account of its own (no notice of another's sign-in on its pages).
      const build = await startTarget("product", { url: redis.url }, { cpu: 1, dist, label: dist, account: `build${i}@example.com` });
      builds.push(build);
      await withWrk({ url: `${build.base}${build.page}`, headers: build.headers, connections: 16, seconds: 2 }); // warm-up
    }
    const measured = await measure(builds, redis.url, withWrk, { connections: 16, rounds: ROUNDS, seconds: SECONDS });
    console.log(`\nsigned-in GET /dashboard, wrk 16 connections, ${ROUNDS} interleaved rounds of ${SECONDS} s, medians\n`);
    console.log(
      table(
        ["build", "server CPU µs/req", "req/s"],
        measured.map((m) => [m.target.label, m.cpuUs.toFixed(0), m.rps.toFixed(0)]),
      ),
    );
  } finally {
    for (const b of builds) await b.stop();
    await redis.stop();
    await stopMail();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
