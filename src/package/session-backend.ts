import type { Store as RateLimitStore } from "express-rate-limit";
import type { RedisClientType } from "redis";
import type { ActivityLog, ActivityLogOptions } from "./activity/activity-log";
import { EmbeddedActivityLog } from "./activity/embedded-activity-log";
import { RedisActivityLog } from "./activity/redis-activity-log";
import type { Config } from "./config";
import type { BackendEvents } from "./events";
import type { EndedReason, Metrics } from "./metric-types";
import { type Bound, bound, boundedClient } from "./redis/bounded-client";
import { isCluster } from "./redis/client";
import { closeRedis } from "./redis/connect";
import { redisRateLimitStore } from "./redis/rate-limit-store";
import { REPLICA_WAIT_TIMEOUT_MS, type ReplicaWait } from "./redis/replica-wait";
import { watchForStalls } from "./redis/stall-watch";
import { EmbeddedSessionStore } from "./session-store/embedded-session-store";
import type { LegacyOptions, MigrationOptions, MigrationProgress } from "./session-store/legacy-sessions";
import { RedisSessionStore } from "./session-store/redis-session-store";
import type { Ending, SessionStore } from "./session-store/session-store";

/** Where sessions and their activity live: one Redis, or this process's memory. */
export interface SessionBackend {
  store: SessionStore;
  activity: ActivityLog;
  /** Where password failures are counted; undefined: in this process (express-rate-limit's memory store). */
  rateLimitStore(prefix: string): RateLimitStore | undefined;
  /** A site moving from connect-redis (`legacy`): its sessions made the package's, and a moved one's old id retired. */
  legacy?: {
    migrate(run?: Omit<MigrationOptions, "cursorKey">): Promise<MigrationProgress>;
    retire(sid: string, keepMs: number): Promise<void>;
  };
  /** Resolves once Redis has answered for the first time (at once for the embedded store). */
  ready: Promise<void>;
  /** Runs one Redis command of the site's or the package's within REDIS_TIMEOUT, refused at once while Redis is known away. */
  bound: Bound;
  /** Whether Redis is known away (stalled, refused, not reached since the start), until it answers a PING. */
  away(): boolean;
  /** A wait for Redis ran out its bound before the first connection: away now, until it answers. */
  markNotReady(): void;
  close(): Promise<void>;
}

export interface SessionBackendOptions {
  /** A client, connected or connecting: Redis. None: the embedded store. The caller closes it. */
  client?: RedisClientType;
  /** Put before every Redis key: a test's or a benchmark's own keyspace. */
  keyPrefix?: string;
  /** The clock the stores read (ms since the epoch). */
  now?: () => number;
  events?: BackendEvents;
  metrics?: Metrics;
  /** The store serves the site's own session middleware: it keeps the cookies it is given. */
  keepCookie?: boolean;
  /** Where connect-redis kept the sessions of a site moving from it, and whose they are (Redis only). */
  legacy?: LegacyOptions;
}

/** How an ending's reason is counted. */
// A rotation is not an end: the session goes on under its next id.
const COUNTED_AS: Record<Exclude<Ending["reason"], "rotated">, EndedReason> = {
  "other-device": "revoked",
  admin: "admin",
  password: "password",
  disabled: "disabled",
  deleted: "deleted",
  cap: "cap",
  alert: "revoked",
  stolen: "stolen",
};

/**
 * Opens the session store, the activity log and the password-failure counters on one backend,
 * at once: what needs Redis waits for it (`ready`), each wait within REDIS_TIMEOUT.
 */
export function openSessionBackend(config: Config, options: SessionBackendOptions): SessionBackend {
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
  const { metrics } = options;
  const rules = {
    keySecret: config.tokenSecrets[0],
    lifetime: config.lifetime,
    cookie: config.cookie,
    keepCookie: options.keepCookie,
    maxSessionsPerUser: config.maxSessionsPerUser,
    onExpired,
    now: options.now,
    tombstoneTtl: config.tombstoneTtl * 1000,
    onEnded: metrics
      ? (reason: Ending["reason"], count: number) => {
          if (reason !== "rotated") metrics.ended.inc({ reason: COUNTED_AS[reason] }, count);
        }
      : undefined,
    observe: metrics
      ? (operation: string, seconds: number, failed: boolean) => {
          metrics.store.observe({ operation }, seconds);
          if (failed) metrics.storeErrors.inc({ operation });
        }
      : undefined,
  };
  const { client, keyPrefix = "", events = {} } = options;

  if (!client) {
    activity = new EmbeddedActivityLog(activityOptions);
    const store = new EmbeddedSessionStore({ ...rules, maxSessions: config.embeddedMaxSessions });
    return {
      store,
      activity,
      rateLimitStore: () => undefined,
      ready: Promise.resolve(),
      bound: async (command) => command(),
      away: () => false,
      markNotReady: () => {},
      close: () => store.close(),
    };
  }
  const cache = (client as { clientSideCache?: { clear(): void } }).clientSideCache;
  // On the client as it is, never bounded: its answer, however late, is what ends a stall.
  const ping = () => (isCluster(client) ? client.exists(`${keyPrefix}sess:user:{ping}`) : client.ping());
  const stallWatch = watchForStalls(ping, () => {
    // Nothing in the cache can be trusted: invalidations may be stuck in the stalled link.
    cache?.clear();
    events.redisStalled?.();
  });
  // Writes that wait for replicas get a connection of their own (replica-wait.ts).
  const durable = config.redisWaitReplicas > 0 ? client.duplicate() : undefined;
  durable?.on("error", (err: Error) => events.redisError?.(err));
  const ready = (async () => {
    await untilReady(client);
    await durable?.connect();
  })();
  ready.catch(() => {});
  // The client says it reconnected: ask at once whether Redis is back, rather than at the next probe.
  (client as { on?(event: string, listener: () => void): unknown }).on?.("ready", () => stallWatch.probe());
  const within = bound({ ready, timeoutMs: config.redisTimeoutMs, stallWatch });
  const bounded = boundedClient(client, within);
  const replicaWait: ReplicaWait = {
    replicas: config.redisWaitReplicas,
    // A WAIT gives up within half the bound, so that a slow replica is never taken for a stall.
    timeoutMs: Math.min(REPLICA_WAIT_TIMEOUT_MS, Math.floor(config.redisTimeoutMs / 2)),
    onShortfall: events.replicaShortfall,
    client: durable && boundedClient(durable, within),
  };
  activity = new RedisActivityLog(bounded, activityOptions, `${keyPrefix}activity:`);
  const store = new RedisSessionStore({
    ...rules,
    client: bounded,
    prefix: `${keyPrefix}sess:`,
    replicaWait,
    // Never longer than the bound: a read gives up within it, like any other wait.
    readRetryMs: Math.min(config.redisReadRetryMs, config.redisTimeoutMs),
    // A read that found Redis unreachable for its whole budget teaches the outage to every
    // later request. Not on a Cluster: there an unreachable master is one slot's, not all.
    onUnreachable: isCluster(client) ? undefined : () => stallWatch.markAway("refused"),
    legacy: options.legacy,
    stallWatch,
  });
  return {
    store,
    activity,
    legacy: options.legacy && { migrate: (run) => store.migrateLegacy(run), retire: (sid, keepMs) => store.retireMoved(sid, keepMs) },
    rateLimitStore: (prefix) => redisRateLimitStore(bounded, `${keyPrefix}${prefix}`, ready),
    ready,
    bound: within,
    away: () => stallWatch.away,
    markNotReady: () => stallWatch.markAway("not-ready"),
    close: async () => {
      stallWatch.stop();
      if (durable) await closeRedis(durable);
    },
  };
}

/** How often a client that is still connecting is looked at. */
const READY_POLL_MS = 25;

/** Resolves once the client (one server, Cluster or Sentinel) is connected and ready for commands. */
function untilReady(client: RedisClientType): Promise<void> {
  return new Promise((resolve) => {
    const look = () => {
      if (client.isReady) resolve();
      else setTimeout(look, READY_POLL_MS).unref();
    };
    look();
  });
}
