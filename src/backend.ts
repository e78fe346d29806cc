import type { Store as RateLimitStore } from "express-rate-limit";
import { RedisStore as RedisRateLimitStore } from "rate-limit-redis";
import { createClient, type RedisClientType } from "redis";
import type { ActivityLog, ActivityLogOptions } from "./activity/activity-log";
import { EmbeddedActivityLog } from "./activity/embedded-activity-log";
import { RedisActivityLog } from "./activity/redis-activity-log";
import type { Config } from "./config";
import { EmbeddedSessionStore } from "./session-store/embedded-session-store";
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

/** Counters for express-rate-limit in the same Redis as the sessions. */
export function redisRateLimitStore(client: RedisClientType, prefix: string): RateLimitStore {
  return new RedisRateLimitStore({ prefix, sendCommand: (...args: string[]) => client.sendCommand(args) as never });
}

/** A visitor's session (a CSRF token for the sign-in form) lives at most a day without use. */
const ANONYMOUS_LIFETIME_MS = 24 * 3600 * 1000;

export function lifetimeOf(config: Config): Lifetime {
  return {
    idle: config.idleTimeout * 1000,
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

export async function connectRedis(url: string): Promise<RedisClientType> {
  const client = createClient({
    url,
    // Fail fast while Redis is away (the request gets a 503) instead of queueing commands.
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
  }) as RedisClientType;
  await client.connect();
  return client;
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

export async function openBackend(config: Config, onRedisError: (err: Error) => void = () => {}): Promise<Backend> {
  const lifetime = lifetimeOf(config);
  const cookie = cookieShapeOf(config);
  if (!config.redisUrl) {
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
  const client = await connectRedis(config.redisUrl);
  client.on("error", onRedisError);
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
    }),
    users: new RedisUserRepository(client),
    rateLimitStore: (prefix) => redisRateLimitStore(client, prefix),
    close: async () => {
      if (client.isOpen) await client.close();
    },
  };
}
