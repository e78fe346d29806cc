import type * as PromClient from "prom-client";
import type { Metrics } from "./metric-types";

/**
 * prom-client, loaded when metrics are asked for: it is an optional peer dependency, so a site
 * that counts nothing installs nothing for it.
 */
function promClient(): typeof PromClient {
  try {
    return require("prom-client");
  } catch {
    throw new Error('Metrics need prom-client: run "npm install prom-client" in your site.');
  }
}

/**
 * The server's Prometheus metrics (prom-client), in a registry of their own. Every label
 * value is from a short fixed list or a route pattern; nothing here reads Redis on a scrape.
 */
export function createMetrics(): PromMetrics {
  return makeMetrics();
}

function makeMetrics() {
  const { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const signIns = new Counter({
    name: "session_sign_ins_total",
    help: "Sign-in attempts by outcome: ok, wrong_password, throttled, disabled.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const created = new Counter({ name: "session_sessions_created_total", help: "Signed-in sessions created (sign-ins).", registers: [registry] });
  const ended = new Counter({
    name: "session_sessions_ended_total",
    help: "Sessions ended, by reason (as far as this process learns it: idle and absolute when a browser comes back after them).",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const reauth = new Counter({
    name: "session_reauthentications_total",
    help: "Passwords entered again to confirm an action, by outcome: ok, wrong, throttled, signed_out.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const open = new Gauge({
    name: "session_sessions_net_created",
    help: "Sessions this process created minus those it ended, since it started: a trend, not a count of live sessions (no keyspace is scanned).",
    registers: [registry],
    async collect() {
      const sum = async (counter: PromClient.Counter<string>) => (await counter.get()).values.reduce((total, v) => total + v.value, 0);
      this.set((await sum(created)) - (await sum(ended)));
    },
  });
  const requests = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route pattern and status class.",
    labelNames: ["route", "status"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const store = new Histogram({
    name: "session_store_operation_duration_seconds",
    help: "Session store operations (each one or a few Redis commands) by operation.",
    labelNames: ["operation"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: "session_store_errors_total",
    help: "Session store operations that failed, by operation.",
    labelNames: ["operation"] as const,
    registers: [registry],
  });
  const unavailable = new Counter({ name: "http_unavailable_total", help: "Requests answered 503 because Redis could not be reached.", registers: [registry] });
  const mail = new Counter({
    name: "session_mail_total",
    help: "Mail the package sent (sign-in alerts), by outcome: sent, failed (tried again later), given_up.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  return { registry, signIns, created, ended, reauth, open, requests, store, storeErrors, unavailable, mail };
}

/** The metrics with prom-client's own types: `registry.metrics()` for a scrape, and everything createSessions counts into. */
export type PromMetrics = ReturnType<typeof makeMetrics>;

/** Cache statistics read at scrape time from node-redis's client-side cache, when there is one. */
type CacheStatsSource = {
  stats(): { hitCount: number; missCount: number; evictionCount: number };
  size(): number;
  on(event: "invalidate", listener: () => void): unknown;
};

export function watchCache(metrics: Metrics, cache: CacheStatsSource | undefined): void {
  if (!cache) return;
  const registry = metrics.registry as PromClient.Registry;
  const { Counter, Gauge } = promClient();
  const invalidations = new Counter({
    name: "session_cache_invalidations_total",
    help: "Keys Redis told this process had changed (or this process dropped after a write on another connection).",
    registers: [registry],
  });
  cache.on("invalidate", () => invalidations.inc());
  // node-redis keeps totals; each scrape adds what came since the last one.
  const total = (name: string, help: string, pick: (s: { hitCount: number; missCount: number; evictionCount: number }) => number) => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = pick(cache.stats());
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  total("session_cache_hits_total", "Session reads answered from this process's cache.", (s) => s.hitCount);
  total("session_cache_misses_total", "Session reads that went to Redis.", (s) => s.missCount);
  total("session_cache_evictions_total", "Entries dropped from the cache to stay within SESSION_CACHE_ENTRIES.", (s) => s.evictionCount);
  new Gauge({
    name: "session_cache_entries",
    help: "Entries in this process's cache now.",
    registers: [registry],
    collect() {
      this.set(cache.size());
    },
  });
}
