/**
 * Redis across a link: a TCP proxy in front of Redis that holds what a server sends for a
 * round trip's time before Redis gets it, so that each command waits as it would for Redis on
 * another host. (The whole delay is on the way there: Node's timers count whole milliseconds,
 * and half a millisecond each way would come out as two.) The product and the peer are started
 * against the proxy and timed with one connection (a page's own latency) and with 16 (latency
 * under load, and throughput). The real round trip, timed with PING through the proxy, is
 * printed beside the one asked for. The ceiling (bare Express, no session, no Redis) runs
 * beside them: its latency is the machine's own floor (scheduling, waking an idle CPU), which
 * no session layer can go below, so its p99 is what a session's p99 is read against.
 */
import { createClient } from "redis";
import { tcpProxy } from "../test/helpers/tcp-proxy";
import { HAS_WRK, type LoadResult, median, table, withAutocannon, withWrk } from "./load";
import { type RunningTarget, startTarget, type TargetName } from "./targets";

/** Redis behind a proxy that holds each chunk on its way to Redis for `delayMs`. Chunks keep their order: timers of one delay fire in order. */
export async function delayingProxy(redisPort: number, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const proxy = await tcpProxy("127.0.0.1", redisPort, (toRedis, write) => (toRedis ? setTimeout(write, delayMs) : write()));
  return { url: `redis://127.0.0.1:${proxy.port}`, close: () => proxy.close() };
}

/** The median time of 50 PINGs through the proxy, in ms. */
async function pingMs(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = process.hrtime.bigint();
    await client.ping();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  await client.close();
  return median(times);
}

const ROUND_TRIPS_MS = [1, 4];
const NAMES: TargetName[] = ["product", "peer", "ceiling"];

/** The latency table: for each delay, product, peer and ceiling, one connection and 16, medians of interleaved rounds. */
export async function remoteRedisLatency(redisPort: number, rounds: number, seconds: number): Promise<string> {
  const drive = HAS_WRK ? withWrk : withAutocannon;
  const rows: string[][] = [];
  for (const rttMs of ROUND_TRIPS_MS) {
    const proxy = await delayingProxy(redisPort, rttMs);
    const targets: RunningTarget[] = [];
    try {
      const measuredMs = await pingMs(proxy.url);
      for (const name of NAMES) targets.push(await startTarget(name, { url: proxy.url }, { cpu: 1 }));
      const results = new Map<string, LoadResult[]>();
      for (let round = 0; round < rounds; round++) {
        for (const t of targets) {
          for (const connections of [1, 16]) {
            const load = { url: `${t.base}${t.page}`, headers: t.headers, connections, seconds };
            let r = await drive(load);
            // A stall of the shared host (wrk counts a request over 2 s as a timeout) spoils a
            // round, not the run: it is measured once more, and fails only if that fails too.
            if (r.failures > 0) {
              process.stdout.write(
                `  ${t.name} behind a ${rttMs} ms link, ${connections} connections: ${r.failures} failed (${r.failureDetail}), measured again\n`,
              );
              r = await drive(load);
            }
            if (r.failures > 0) throw new Error(`${t.name} behind a ${rttMs} ms link: ${r.failures} failed requests (${r.failureDetail})`);
            const key = `${t.name}|${connections}`;
            results.set(key, [...(results.get(key) ?? []), r]);
          }
        }
      }
      for (const t of targets) {
        const one = results.get(`${t.name}|1`)!;
        const many = results.get(`${t.name}|16`)!;
        rows.push([
          `${rttMs} ms (PING ${measuredMs.toFixed(2)} ms)`,
          t.name,
          median(one.map((r) => r.p50)).toFixed(2),
          median(one.map((r) => r.p90)).toFixed(2),
          median(one.map((r) => r.p99)).toFixed(2),
          median(many.map((r) => r.rps)).toFixed(0),
          median(many.map((r) => r.p50)).toFixed(2),
          median(many.map((r) => r.p99)).toFixed(2),
        ]);
      }
    } finally {
      for (const t of targets) await t.stop();
      await proxy.close();
    }
  }
  return table(
    ["Redis round trip (asked; measured)", "signed-in GET /dashboard", "1 connection: p50 ms", "p90 ms", "p99 ms", "16 connections: req/s", "p50 ms", "p99 ms"],
    rows,
  );
}
