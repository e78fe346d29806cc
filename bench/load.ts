/**
 * The load generators the benchmarks drive a server with: autocannon (in this process) and
 * wrk (Debian's `wrk`, a process of its own, pinned to CPU 0 beside Redis where taskset is).
 * Both answer the same figures, so a table reads the same whichever made it.
 */
import { spawn, spawnSync } from "node:child_process";
import autocannon from "autocannon";
import { HAS_TASKSET } from "./targets";

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Answers that were not 2xx, and socket errors: a round with any is not a measurement. */
  failures: number;
  /** What the load generator said of them. */
  failureDetail?: string;
}

export interface Load {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

export const HAS_WRK = spawnSync("wrk", ["-v"]).error === undefined;

export async function withAutocannon(load: Load): Promise<LoadResult> {
  const r = await autocannon({ url: load.url, headers: load.headers, connections: load.connections, duration: load.seconds });
  return {
    requests: r.requests.total,
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    failures: r.non2xx + r.errors,
    failureDetail: `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`,
  };
}

/** wrk with one thread (the load side has one core), its latency distribution in ms. */
export async function withWrk(load: Load): Promise<LoadResult> {
  const headers = Object.entries(load.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  const args = ["-t1", `-c${load.connections}`, `-d${load.seconds}s`, "--latency", ...headers, load.url];
  const child = HAS_TASKSET ? spawn("taskset", ["-c", "0", "wrk", ...args]) : spawn("wrk", args);
  let out = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr.on("data", (chunk) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (code !== 0 || Number.isNaN(requests) || Number.isNaN(rps)) throw new Error(`wrk failed (${code}): ${out}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const failures =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const failureDetail = out
    .split("\n")
    .filter((line) => /Socket errors|Non-2xx/.test(line))
    .join("; ")
    .trim();
  return { requests, rps, p50: wrkMs(out, "50%"), p90: wrkMs(out, "90%"), p99: wrkMs(out, "99%"), failures, failureDetail };
}

/** One line of wrk's latency distribution ("50%  635.00us"), in ms. */
function wrkMs(out: string, percentile: string): number {
  const m = new RegExp(`${percentile}\\s+([\\d.]+)(us|ms|s)`).exec(out);
  if (!m) return Number.NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as "us" | "ms" | "s"];
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A markdown table, its columns as wide as their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
