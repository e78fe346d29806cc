import { createClient, type RedisClientType } from "redis";
import { isCluster } from "../../src/package/redis/client";
import { startRedisCluster } from "./redis-cluster";
import { startRedisSentinel } from "./redis-sentinel";
import { startRedisServer } from "./redis-server";

/**
 * Which Redis the suite runs on. `npm test` runs on one server; `npm run test:topologies`
 * runs the same files again as two jest projects, one on a Redis Cluster and one behind
 * Redis Sentinel (jest.topologies.config.js sets `globals.topology`).
 */
export type Topology = "single" | "cluster" | "sentinel";

export function topology(): Topology {
  return ((globalThis as { topology?: Topology }).topology ?? "single") as Topology;
}

/** The backends the HTTP tests run on: the embedded store too, but only once (on one server). */
export function backendKinds(): Array<"redis" | "embedded"> {
  return topology() === "single" ? ["redis", "embedded"] : ["redis"];
}

/** How test names call this run's Redis. */
export function redisName(): string {
  return { single: "Redis", cluster: "Redis Cluster", sentinel: "Redis Sentinel" }[topology()];
}

/** Where a topology started by globalSetup is, kept in variables named for it (both projects' setups run first). */
const ENV_OF: Record<Topology, string[]> = {
  single: ["REDIS_URL"],
  cluster: ["REDIS_CLUSTER_NODES"],
  sentinel: ["REDIS_SENTINELS", "REDIS_SENTINEL_NAME"],
};

/** The product's configuration variables that point at the test Redis of this run's topology. */
export function testRedisEnv(which: Topology = topology()): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ENV_OF[which]) {
    const value = process.env[`TEST_${name}`];
    if (!value) throw new Error(`TEST_${name} is not set: run the tests through jest (npm test, npm run test:topologies)`);
    env[name] = value;
  }
  return env;
}

/** Starts a throwaway Redis of the given topology on free loopback ports and publishes it as TEST_* variables. */
export async function startTopology(which: Topology): Promise<{ stop(): Promise<void> }> {
  if (which === "cluster") {
    const cluster = await startRedisCluster();
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes
      .slice(0, 3)
      .map((n) => `${n.host}:${n.port}`)
      .join(",");
    return cluster;
  }
  if (which === "sentinel") {
    const setup = await startRedisSentinel();
    process.env.TEST_REDIS_SENTINELS = setup.sentinels.map((s) => `${s.host}:${s.port}`).join(",");
    process.env.TEST_REDIS_SENTINEL_NAME = setup.name;
    return setup;
  }
  const server = await startRedisServer();
  process.env.TEST_REDIS_URL = server.url;
  return server;
}

/** URLs of every master behind a client: each master of a Cluster, the current master behind Sentinel. */
export function masterUrls(client: RedisClientType): string[] {
  if (isCluster(client)) {
    const masters = (client as unknown as { masters: Array<{ host: string; port: number }> }).masters;
    return masters.map((m) => `redis://${m.host}:${m.port}`);
  }
  if ("getMasterNode" in client) {
    const node = (client as unknown as { getMasterNode(): { host: string; port: number } | undefined }).getMasterNode();
    if (!node) throw new Error("the sentinels name no master");
    return [`redis://${node.host}:${node.port}`];
  }
  return [client.options?.url ?? process.env.TEST_REDIS_URL!];
}

/** A plain connection to every master behind a client, for the commands a node answers alone. */
export async function connectMasters(client: RedisClientType): Promise<RedisClientType[]> {
  return Promise.all(
    masterUrls(client).map(async (url) => {
      const node = createClient({ url }) as RedisClientType;
      node.on("error", () => {});
      await node.connect();
      return node;
    }),
  );
}

/** Every key matching `pattern`, from every master (SCAN only sees the node it is sent to). */
export async function scanKeys(client: RedisClientType, pattern: string): Promise<string[]> {
  const nodes = await connectMasters(client);
  const keys: string[] = [];
  try {
    for (const node of nodes) {
      for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
    }
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
  return keys;
}

/**
 * Records the commands every master receives (MONITOR) whose line contains `filter`, until
 * the returned stop() is called; stop() returns the command names, upper-cased.
 */
export async function monitorCommands(client: RedisClientType, filter: string): Promise<{ stop(): Promise<string[]> }> {
  const lines: string[] = [];
  const nodes = await connectMasters(client);
  await Promise.all(
    nodes.map((node) =>
      node.monitor((line: string) => {
        if (line.includes(filter)) lines.push(line);
      }),
    ),
  );
  return {
    async stop() {
      // MONITOR lines arrive after the replies; give the last ones a moment.
      await new Promise((r) => setTimeout(r, 100));
      await Promise.all(nodes.map((n) => n.close()));
      return lines.map((l) => /"(\w+)"/.exec(l)?.[1]?.toUpperCase() ?? "");
    },
  };
}
