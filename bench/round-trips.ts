/**
 * Redis commands per signed-in page view, counted with MONITOR on every master that serves,
 * over 10,000 requests, on one server and on a 3-master Cluster, with each process's cache of
 * session records (SESSION_CACHE_ENTRIES) on and off, and the Prometheus metrics on.
 * npm run bench:round-trips   (one server: REDIS_URL if set, otherwise throwaway servers)
 * A Lua script counts as one command; the commands it runs inside are not counted.
 */
import { loadConfig } from "../src/package/config";
import { createMetrics } from "../src/package/metrics";
import { openBackend } from "../src/site/backend";
import { startRedisCluster } from "../test/helpers/redis-cluster";
import { startRedisServer } from "../test/helpers/redis-server";
import { monitorCommands } from "../test/helpers/topology";
import { servedSite } from "./served-site";

const REQUESTS = Number(process.env.REQUESTS ?? 10_000);

async function main() {
  const own = process.env.REDIS_URL ? undefined : await startRedisServer();
  const single = { REDIS_URL: process.env.REDIS_URL ?? own!.url };
  const cluster = await startRedisCluster(3, 0);
  const clustered = { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",") };
  try {
    for (const [name, where] of [
      ["one server", single],
      ["3-master Cluster", clustered],
    ] as const) {
      for (const entries of ["10000", "0"]) await count(`${name}, SESSION_CACHE_ENTRIES=${entries}`, { ...where, SESSION_CACHE_ENTRIES: entries });
    }
  } finally {
    await cluster.stop();
    await own?.stop();
  }
}

async function count(label: string, env: Record<string, string>) {
  const prefix = `bench${Date.now()}:`;
  const config = loadConfig({ SESSION_SECRET: "bench-secret-bench-secret-bench-secret", ...env });
  // The server's own wiring, on this run's keys.
  // With the Prometheus metrics on, as an operator runs it: they must not cost a round trip.
  const metrics = createMetrics();
  const backend = await openBackend(config, { keyPrefix: prefix, metrics, events: { mailWritten: () => {} } });
  const { go, form, close } = await servedSite(config, backend, metrics);
  await form("/signup", { name: "Bench", email: `bench${Date.now()}@example.com`, password: "bench password 123" });
  await go("/dashboard");
  await go("/dashboard");

  const monitor = await monitorCommands(backend.redis!, prefix);
  for (let i = 0; i < REQUESTS; i++) {
    const res = await go("/dashboard");
    if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}`);
    await res.arrayBuffer();
  }
  const commands = await monitor.stop();
  const byName = new Map<string, number>();
  for (const name of commands) byName.set(name, (byName.get(name) ?? 0) + 1);
  const named = [...byName].map(([n, c]) => `${n} ${c}`).join(", ") || "none";
  console.log(`${label}: ${REQUESTS} signed-in GET /dashboard inside the update window (${config.updateAge} s)`);
  console.log(`  Redis commands: ${commands.length} (${named}); per page view: ${(commands.length / REQUESTS).toFixed(4)}`);
  await metrics.registry.metrics(); // a scrape, as Prometheus would make one

  await close();
  await backend.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
