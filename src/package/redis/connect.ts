import type * as NodeRedis from "redis";
import type { RedisClientType } from "redis";
import { type Config, ConfigError } from "../config";

/**
 * node-redis, loaded when the package connects by itself (REDIS_URL and its kin): it is the
 * site's own dependency (a peer), and a site on the embedded store in development needs none.
 */
function nodeRedis(): typeof NodeRedis {
  try {
    return require("redis");
  } catch {
    throw new ConfigError('Redis settings need the "redis" package: run "npm install redis" in your site.');
  }
}

const CLIENT_OPTIONS = {
  // Fail fast while Redis is away (the request gets a 503) instead of queueing commands.
  disableOfflineQueue: true,
  // Reconnects at least twice a second, so that pages come back within a second of Redis.
  socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500) },
};

/**
 * Server-assisted client-side caching (Redis CLIENT TRACKING over RESP3): what the client
 * reads it keeps, bounded and least recently used first out, until Redis says the key
 * changed. A session read inside the update window then costs no round trip at all.
 */
function cacheOptions(entries: number) {
  return entries > 0 ? { RESP: 3 as const, clientSideCache: { maxEntries: entries, evictPolicy: "LRU" as const, ttl: 0 } } : {};
}

/** A client of one server, not yet connected: `connect()` it, or let the package's setup do it. */
export function createRedis(url: string, cacheEntries = 0): RedisClientType {
  return nodeRedis().createClient({ url, ...CLIENT_OPTIONS, ...cacheOptions(cacheEntries) }) as RedisClientType;
}

export async function connectRedis(url: string, cacheEntries = 0): Promise<RedisClientType> {
  const client = createRedis(url, cacheEntries);
  await client.connect();
  return client;
}

/**
 * A Redis Cluster client, typed as a single-server one for the stores: every command they
 * send names one key, which the cluster client routes to its slot.
 */
function createRedisCluster(nodes: string[], cacheEntries = 0): RedisClientType {
  const cluster = nodeRedis().createCluster({
    ...cacheOptions(cacheEntries),
    rootNodes: nodes.map((n) => ({ url: `redis://${n}` })),
    // A node that stops answering is retried every quarter second, and each retry after the
    // first 100 ms asks a live node for the slot map (node-redis waits 5 s by default): the
    // client learns of a replica's promotion within a quarter second of the cluster.
    defaults: { ...CLIENT_OPTIONS, socket: { ...CLIENT_OPTIONS.socket, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 250) } },
    topologyRefreshOnReconnectionAttemptStrategy: 100,
  });
  return cluster as unknown as RedisClientType;
}

/** A client that follows the master the sentinels name, across failovers; typed likewise. */
function createRedisSentinel(sentinels: string[], name: string, cacheEntries = 0): RedisClientType {
  const cache = cacheOptions(cacheEntries);
  const client = nodeRedis().createSentinel({
    ...cache,
    name,
    sentinelRootNodes: sentinels.map((s) => {
      const [host, port] = s.split(":");
      return { host, port: Number(port) };
    }),
    // The Sentinel client does not pass RESP 3 on to its node clients (node-redis #3010).
    nodeClientOptions: { ...CLIENT_OPTIONS, ...(cache.RESP ? { RESP: cache.RESP } : {}) },
  });
  return client as unknown as RedisClientType;
}

/** The configured Redis, not yet connected: one server, a cluster, or a master behind sentinels. */
export function createConfiguredRedis(config: Config): RedisClientType {
  const entries = config.sessionCacheEntries;
  if (config.redisUrl) return createRedis(config.redisUrl, entries);
  if (config.redisClusterNodes.length > 0) return createRedisCluster(config.redisClusterNodes, entries);
  return createRedisSentinel(config.redisSentinels, config.redisSentinelName, entries);
}

/** The configured Redis, connected. */
export async function connectConfiguredRedis(config: Config): Promise<RedisClientType> {
  const client = createConfiguredRedis(config);
  await client.connect();
  return client;
}

/**
 * Closes gracefully when Redis answers; when it does not (a dead node keeps the client
 * reconnecting), gives up after two seconds and drops the connections.
 */
export async function closeRedis(client: RedisClientType, graceMs = 2000): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), graceMs);
  });
  const outcome = await Promise.race([
    client.close().then(
      () => "closed" as const,
      () => "failed" as const,
    ),
    gaveUp,
  ]);
  clearTimeout(timer);
  if (outcome !== "closed") client.destroy();
}
