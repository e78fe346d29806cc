import type { Store as RateLimitStore } from "express-rate-limit";
import { RedisStore as RedisRateLimitStore } from "rate-limit-redis";
import { createClient, createCluster, createSentinel, type RedisClientType } from "redis";
import type { ActivityLog, ActivityLogOptions } from "./activity/activity-log";
import { EmbeddedActivityLog } from "./activity/embedded-activity-log";
import { RedisActivityLog } from "./activity/redis-activity-log";
import type { Config } from "./config";
import { EmbeddedSessionStore } from "./session-store/embedded-session-store";
import { isCluster, sendRaw } from "./session-store/redis-client";
import { RedisSessionStore } from "./session-store/redis-session-store";
import type { CookieShape, Lifetime } from "./session-store/session-record";
import type { SessionStore } from "./session-store/session-store";
import { EmbeddedUserRepository } from "./users/embedded-user-repository";
import { RedisUserRepository } from "./users/redis-user-repository";
import type { UserRepository } from "./users/user-repository";

/** Where sessions and accounts live: one Redis, or this process's memory. */
export interface Backend {
  kind: "redis" | "embedded";
  sessions: SessionStore;
  users: UserRepository;
  activity: ActivityLog;
  /** Where sign-in attempts are counted; undefined: in this process (express-rate-limit's memory store). */
  rateLimitStore(prefix: string): RateLimitStore | undefined;
  close(): Promise<void>;
}

/**
 * rate-limit-redis loads its two scripts once, as the limiter starts, and keeps the outcome:
 * had Redis not answered at that moment (a failover, a restart), every later count would fail
 * with that same error until the server restarted, and with it every sign-up and sign-in.
 * After a failed count this store loads the scripts again, so one request fails, not all.
 */
class ReloadingRateLimitStore extends RedisRateLimitStore {
  override increment(key: string) {
    return this.reloadOnFailure(() => super.increment(key));
  }

  override get(key: string) {
    return this.reloadOnFailure(() => super.get(key));
  }

  private async reloadOnFailure<T>(count: () => Promise<T>): Promise<T> {
    try {
      return await count();
    } catch (err) {
      this.incrementScriptSha = this.loadIncrementScript();
      this.getScriptSha = this.loadGetScript();
      // Awaited by the next count; a failure here must not be an unhandled rejection.
      this.incrementScriptSha.catch(() => {});
      this.getScriptSha.catch(() => {});
      throw err;
    }
  }
}

/** Counters for express-rate-limit in the same Redis as the sessions. */
export function redisRateLimitStore(client: RedisClientType, prefix: string): RateLimitStore {
  if (isCluster(client)) {
    return new ReloadingRateLimitStore({ prefix, sendCommandCluster: ({ key, command }) => sendRaw(client, key, command) });
  }
  return new ReloadingRateLimitStore({ prefix, sendCommand: (...args: string[]) => sendRaw(client, undefined, args) });
}

/** A visitor's session (a CSRF token for the sign-in form) lives at most a day without use. */
const ANONYMOUS_LIFETIME_MS = 24 * 3600 * 1000;

export function lifetimeOf(config: Config): Lifetime {
  return {
    idle: config.idleTimeout * 1000,
    browserIdle: config.browserIdleTimeout * 1000,
    absolute: config.absoluteTimeout * 1000,
    anonymous: Math.min(config.idleTimeout * 1000, ANONYMOUS_LIFETIME_MS),
    updateAge: config.updateAge * 1000,
  };
}

export function cookieShapeOf(config: Config): CookieShape {
  return { httpOnly: true, path: "/", sameSite: "lax", secure: config.production };
}

export function cookieNameOf(config: Config): string {
  return config.production ? "__Host-sid" : "sid";
}

/** How long a write waits for REDIS_WAIT_REPLICAS replicas before it is answered all the same. */
const REPLICA_WAIT_TIMEOUT_MS = 1000;

const CLIENT_OPTIONS = {
  // Fail fast while Redis is away (the request gets a 503) instead of queueing commands.
  disableOfflineQueue: true,
  socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
};

export async function connectRedis(url: string): Promise<RedisClientType> {
  const client = createClient({ url, ...CLIENT_OPTIONS }) as RedisClientType;
  await client.connect();
  return client;
}

/**
 * A Redis Cluster client, typed as a single-server one for the stores: every command they
 * send names one key, which the cluster client routes to its slot.
 */
export async function connectRedisCluster(nodes: string[]): Promise<RedisClientType> {
  const cluster = createCluster({
    rootNodes: nodes.map((n) => ({ url: `redis://${n}` })),
    // A node that stops answering is retried every quarter second, and each retry after the
    // first 100 ms asks a live node for the slot map (node-redis waits 5 s by default): the
    // client learns of a replica's promotion within a quarter second of the cluster.
    defaults: { ...CLIENT_OPTIONS, socket: { ...CLIENT_OPTIONS.socket, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 250) } },
    topologyRefreshOnReconnectionAttemptStrategy: 100,
  });
  await cluster.connect();
  return cluster as unknown as RedisClientType;
}

/** A client that follows the master the sentinels name, across failovers; typed likewise. */
export async function connectRedisSentinel(sentinels: string[], name: string): Promise<RedisClientType> {
  const client = createSentinel({
    name,
    sentinelRootNodes: sentinels.map((s) => {
      const [host, port] = s.split(":");
      return { host, port: Number(port) };
    }),
    nodeClientOptions: CLIENT_OPTIONS,
  });
  await client.connect();
  return client as unknown as RedisClientType;
}

/** The configured Redis: one server, a cluster, or a master behind sentinels. */
export function connectConfiguredRedis(config: Config): Promise<RedisClientType> {
  if (config.redisUrl) return connectRedis(config.redisUrl);
  if (config.redisClusterNodes.length > 0) return connectRedisCluster(config.redisClusterNodes);
  return connectRedisSentinel(config.redisSentinels, config.redisSentinelName);
}

export function usesRedis(config: Config): boolean {
  return Boolean(config.redisUrl) || config.redisClusterNodes.length > 0 || config.redisSentinels.length > 0;
}

export function activityOptionsOf(config: Config): ActivityLogOptions {
  return { maxPerUser: config.activityMaxPerUser, retention: config.activityRetention * 1000, maxAudit: config.auditMax };
}

/** Records "session expired" when a store finds an expired session of a user. */
export function noticeExpiry(activity: () => ActivityLog | undefined) {
  return (userId: string, handle: string) => {
    void activity()
      ?.record(userId, { type: "session_expired", ip: "", userAgent: "", session: handle })
      .catch(() => {});
  };
}

/** What the backend tells its owner (server.ts logs both). */
export interface BackendEvents {
  /** A connection problem; the client reconnects by itself. */
  redisError?(err: Error): void;
  /** A write answered with fewer replicas than REDIS_WAIT_REPLICAS asked for. */
  replicaShortfall?(acknowledged: number, wanted: number): void;
}

export async function openBackend(config: Config, events: BackendEvents = {}): Promise<Backend> {
  const lifetime = lifetimeOf(config);
  const cookie = cookieShapeOf(config);
  if (!usesRedis(config)) {
    const activity = new EmbeddedActivityLog(activityOptionsOf(config));
    const sessions = new EmbeddedSessionStore({
      lifetime,
      cookie,
      maxSessionsPerUser: config.maxSessionsPerUser,
      maxSessions: config.embeddedMaxSessions,
      onExpired: noticeExpiry(() => activity),
    });
    return {
      kind: "embedded",
      sessions,
      activity,
      users: new EmbeddedUserRepository(),
      rateLimitStore: () => undefined,
      close: () => sessions.close(),
    };
  }
  const client = await connectConfiguredRedis(config);
  client.on("error", (err: Error) => events.redisError?.(err));
  // Writes that wait for replicas get a connection of their own (see ReplicaWait.client).
  let durable: RedisClientType | undefined;
  if (config.redisWaitReplicas > 0) {
    durable = client.duplicate();
    durable.on("error", (err: Error) => events.redisError?.(err));
    await durable.connect();
  }
  const replicaWait = { replicas: config.redisWaitReplicas, timeoutMs: REPLICA_WAIT_TIMEOUT_MS, onShortfall: events.replicaShortfall, client: durable };
  const activity = new RedisActivityLog(client, activityOptionsOf(config));
  return {
    kind: "redis",
    activity,
    sessions: new RedisSessionStore({
      client,
      lifetime,
      cookie,
      maxSessionsPerUser: config.maxSessionsPerUser,
      onExpired: noticeExpiry(() => activity),
      replicaWait,
      readRetryMs: config.redisReadRetryMs,
    }),
    users: new RedisUserRepository(client, undefined, replicaWait),
    rateLimitStore: (prefix) => redisRateLimitStore(client, prefix),
    close: async () => {
      await Promise.all([closeRedis(client), durable ? closeRedis(durable) : undefined]);
    },
  };
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
  const outcome = await Promise.race([client.close().then(() => "closed" as const, () => "failed" as const), gaveUp]);
  clearTimeout(timer);
  if (outcome !== "closed") client.destroy();
}
