/**
 * Interleaved rounds of one load over several running targets: each target's server CPU per
 * request (from /proc), Redis's own CPU per request (`INFO cpu`, less its idle cost), req/s and
 * latency, as medians and round by round. Shared by npm run bench and npm run bench:builds.
 */
import { createClient, type RedisClientType } from "redis";
import { type Load, type LoadResult, median } from "./load";
import { cpuTimeUs, type RunningTarget } from "./targets";

export interface Measured {
  target: RunningTarget;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  /** Redis's own CPU per page, less its idle cost; NaN for the cluster target (its Redis is the cluster). */
  redisCpuUs: number;
  /** Each round's figures, in the order the rounds ran. */
  byRound: Array<{ rps: number; cpuUs: number }>;
}

/** The Redis server's own CPU time so far (user + system, `INFO cpu`), in microseconds. */
async function redisCpuTimeUs(client: RedisClientType): Promise<number> {
  const info = await client.info("cpu");
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
}

/** Interleaved rounds of one load generator at one concurrency over every target: medians. */
export async function measure(
  targets: RunningTarget[],
  redisUrl: string,
  drive: (load: Load) => Promise<LoadResult>,
  { connections, rounds: roundCount, seconds }: { connections: number; rounds: number; seconds: number },
): Promise<Measured[]> {
  const info = (await createClient({ url: redisUrl }).connect()) as RedisClientType;
  try {
    // What Redis spends idle (its timers) in as long as a round, taken off each round's figure.
    const idleBefore = await redisCpuTimeUs(info);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const idleUs = (await redisCpuTimeUs(info)) - idleBefore;
    const rounds = new Map<RunningTarget, Array<Omit<Measured, "target" | "byRound">>>(targets.map((t) => [t, []]));
    for (let round = 1; round <= roundCount; round++) {
      for (const t of targets) {
        const cpuBefore = cpuTimeUs(t.child.pid!);
        const redisBefore = await redisCpuTimeUs(info);
        const r = await drive({ url: `${t.base}${t.page}`, headers: t.headers, connections, seconds });
        const cpuUs = (cpuTimeUs(t.child.pid!) - cpuBefore) / r.requests;
        const redisCpuUs = t.name.includes("Cluster") ? Number.NaN : Math.max(0, (await redisCpuTimeUs(info)) - redisBefore - idleUs) / r.requests;
        if (r.failures > 0) throw new Error(`${t.label}: ${r.failures} requests failed or were not 2xx`);
        rounds.get(t)!.push({ rps: r.rps, p50: r.p50, p99: r.p99, cpuUs, redisCpuUs });
        process.stdout.write(`  round ${round}, ${connections} connections, ${t.label}: ${r.rps.toFixed(0)} req/s\n`);
      }
    }
    return targets.map((target) => {
      const rs = rounds.get(target)!;
      const of = (key: keyof Omit<Measured, "target" | "byRound">) => median(rs.map((r) => r[key]));
      return { target, rps: of("rps"), p50: of("p50"), p99: of("p99"), cpuUs: of("cpuUs"), redisCpuUs: of("redisCpuUs"), byRound: rs };
    });
  } finally {
    await info.close();
  }
}
