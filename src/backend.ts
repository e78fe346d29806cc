import type { Store as RateLimitStore } from "express-rate-limit";
import type { RedisClientType } from "redis";
import type { ActivityLog, ActivityLogOptions } from "./activity/activity-log";
import { EmbeddedActivityLog } from "./activity/embedded-activity-log";
import { RedisActivityLog } from "./activity/redis-activity-log";
import { type Config, usesRedis } from "./config";
import { closeRedis, connectConfiguredRedis } from "./redis/connect";
import { redisRateLimitStore } from "./redis/rate-limit-store";
import type { ReplicaWait } from "./redis/replica-wait";
import { EmbeddedSessionStore } from "./session-store/embedded-session-store";
import { RedisSessionStore } from "./session-store/redis-session-store";
import type { SessionStore } from "./session-store/session-store";
import { EmbeddedUserRepository } from "./users/embedded-user-repository";
import { RedisUserRepository } from "./users/redis-user-repository";
import type { UserRepository } from "./users/user-repository";

/** Where sessions, accounts and their activity live: one Redis, or this process's memory. */
export interface Backend {
  sessions: SessionStore;
  users: UserRepository;
  activity: ActivityLog;
  /** Where password failures are counted; undefined: in this process (express-rate-limit's memory store). */
  rateLimitStore(prefix: string): RateLimitStore | undefined;
  /** The Redis client, when the backend is Redis. */
  redis?: RedisClientType;
  close(): Promise<void>;
}

/** What the backend tells its owner (server.ts logs both). */
export interface BackendEvents {
  /** A connection problem; the client reconnects by itself. */
  redisError?(err: Error): void;
  /** A write answered with fewer replicas than REDIS_WAIT_REPLICAS asked for. */
  replicaShortfall?(acknowledged: number, wanted: number): void;
}

/** What the server takes from configuration and tests and benchmarks set for themselves. */
export interface BackendOptions {
  events?: BackendEvents;
  /** Put before every Redis key ("" for the server): a test's or a benchmark's own keyspace. */
  keyPrefix?: string;
  /** A connected client to use rather than connecting from configuration; the caller closes it. */
  client?: RedisClientType;
  /** The clock the stores read (ms since the epoch). */
  now?: () => number;
}

/** How long a write waits for REDIS_WAIT_REPLICAS replicas before it is answered all the same. */
const REPLICA_WAIT_TIMEOUT_MS = 1000;

/** The one place the server, the command-line tools, the tests and the benchmarks build their backend. */
export async function openBackend(config: Config, options: BackendOptions = {}): Promise<Backend> {
  const activityOptions: ActivityLogOptions = {
    maxPerUser: config.activityMaxPerUser,
    retention: config.activityRetention * 1000,
    maxAudit: config.auditMax,
  };
  let activity: ActivityLog | undefined;
  // A listing that finds a session gone from its user's index tells of it as expired.
  const onExpired = (userId: string, handle: string) => {
    void activity?.record(userId, { type: "session_expired", ip: "", userAgent: "", session: handle }).catch(() => {});
  };
  const rules = { lifetime: config.lifetime, cookie: config.cookie, maxSessionsPerUser: config.maxSessionsPerUser, onExpired, now: options.now };

  if (!options.client && !usesRedis(config)) {
    activity = new EmbeddedActivityLog(activityOptions);
    const sessions = new EmbeddedSessionStore({ ...rules, maxSessions: config.embeddedMaxSessions });
    return { sessions, activity, users: new EmbeddedUserRepository(), rateLimitStore: () => undefined, close: () => sessions.close() };
  }

  const { events = {}, keyPrefix = "" } = options;
  const owned = !options.client;
  const client = options.client ?? (await connectConfiguredRedis(config));
  if (owned) client.on("error", (err: Error) => events.redisError?.(err));
  // Writes that wait for replicas get a connection of their own (see ReplicaWait.client).
  let durable: RedisClientType | undefined;
  if (config.redisWaitReplicas > 0) {
    durable = client.duplicate();
    durable.on("error", (err: Error) => events.redisError?.(err));
    await durable.connect();
  }
  const replicaWait: ReplicaWait = {
    replicas: config.redisWaitReplicas,
    timeoutMs: REPLICA_WAIT_TIMEOUT_MS,
    onShortfall: events.replicaShortfall,
    client: durable,
  };
  activity = new RedisActivityLog(client, activityOptions, `${keyPrefix}activity:`);
  const sessions = new RedisSessionStore({ ...rules, client, prefix: `${keyPrefix}sess:`, replicaWait, readRetryMs: config.redisReadRetryMs });
  return {
    sessions,
    activity,
    users: new RedisUserRepository(client, `${keyPrefix}user:`, replicaWait),
    rateLimitStore: (prefix) => redisRateLimitStore(client, `${keyPrefix}${prefix}`),
    redis: client,
    close: async () => {
      await Promise.all([owned ? closeRedis(client) : undefined, durable ? closeRedis(durable) : undefined]);
    },
  };
}
