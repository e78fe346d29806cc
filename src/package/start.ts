import { accessSync, constants } from "node:fs";
import type { Request, RequestHandler } from "express";
import type { RedisClientType } from "redis";
import { type Config, ConfigError, loadConfig, usesRedis } from "./config";
import { watchCache } from "./metrics";
import { movedIdOf } from "./middleware/legacy-move";
import { withinBound } from "./redis/bounded-client";
import { createConfiguredRedis, createRedis } from "./redis/connect";
import { RedisNotReadyError } from "./redis/stall-watch";
import { openSessionBackend } from "./session-backend";
import { type Locate, openLocator } from "./sessions/location";
import type { SessionsOptions } from "./surface";

const WAITED_FOR_START = Symbol("waited for the start");

/** What the start gives createSessions: its settings, the backend, and the gate that waits for both. */
export type Started = ReturnType<typeof start>;

/**
 * The start: settings, the Redis client (the site's, or one the package makes from a URL), the
 * store on it, the location data. Returns at once; `ready` settles when Redis has answered and
 * the data is loaded, and `startGate` holds a request for that, REDIS_TIMEOUT at most.
 */
export function start(options: SessionsOptions) {
  const redisUrl = typeof options.redis === "string" && options.redis !== "" ? options.redis : undefined;
  const given = typeof options.redis === "object" && options.redis !== null ? (options.redis as RedisClientType) : undefined;
  if (given) {
    checkRedisClient(given);
    // A client with no `error` listener crashes the process at the first lost connection
    // (an unhandled 'error' event): the package listens, and tells `events`.
    const emitter = given as { listenerCount?(event: string): number; on?(event: string, listener: (err: Error) => void): unknown };
    if (emitter.listenerCount?.("error") === 0) emitter.on?.("error", (err) => options.events?.redisError?.(err));
  }
  const config = options.config ?? settingsOf(options, redisUrl);
  const warn = options.events?.warning ?? ((message: string) => process.emitWarning(message, { code: "EXPRESS_USER_SESSIONS" }));
  for (const message of config.warnings) warn(message);
  checkReadable(config.geoipDatabase);
  const owned = redisUrl ? createRedis(redisUrl, config.sessionCacheEntries) : !given && usesRedis(config) ? createConfiguredRedis(config) : undefined;
  owned?.on("error", (err: Error) => options.events?.redisError?.(err));
  const client = given ?? owned;
  if (options.legacy !== undefined && !client) {
    throw new ConfigError("createSessions: `legacy` reads the sessions connect-redis kept in Redis: pass `redis` (or set REDIS_URL) too.");
  }
  const { metrics } = options;
  const backend = openSessionBackend(config, {
    client,
    keyPrefix: options.keyPrefix,
    now: options.now,
    events: options.events,
    metrics,
    keepCookie: options.userIdOf !== undefined,
    legacy: options.legacy && {
      prefix: options.legacy.prefix ?? "sess:",
      userIdOf: options.legacy.userIdOf,
      movedIdsOf: (sid: string) => config.tokenSecrets.map((secret) => movedIdOf(sid, secret)),
    },
  });
  if (metrics && client) watchCache(metrics, (client as unknown as { clientSideCache?: Parameters<typeof watchCache>[1] }).clientSideCache);
  let locator: Locate = () => null;
  const located = openLocator(config.geoipDatabase).then((loaded) => {
    locator = loaded;
  });
  let isReady = false;
  const ready = Promise.all([owned?.connect(), backend.ready, located]).then(() => {
    isReady = true;
  });
  // A site that never asks is told by its requests (a 503 each), not by an unhandled rejection.
  ready.catch(() => {});
  /**
   * Holds a request until the start is done, REDIS_TIMEOUT at most, once per request; and once
   * per outage: after a wait ran out, requests are refused at once until Redis answers.
   */
  const startGate: RequestHandler = (req, _res, next) => {
    if (isReady) return next();
    const waited = req as Request & { [WAITED_FOR_START]?: Error };
    if (waited[WAITED_FOR_START]) return next(waited[WAITED_FOR_START]);
    const refuse = (err: Error) => {
      waited[WAITED_FOR_START] = err;
      next(err);
    };
    if (backend.away()) return refuse(new RedisNotReadyError());
    withinBound(ready, config.redisTimeoutMs).then(
      () => next(),
      (err) => {
        backend.markNotReady();
        refuse(err);
      },
    );
  };
  const locate: Locate = (ip) => locator(ip);
  return { config, owned, backend, locate, ready, isReady: () => isReady, startGate, warn };
}

function settingsOf(options: SessionsOptions, redisUrl: string | undefined): Config {
  // Over the process's environment, not instead of it: NODE_ENV=production (and with it
  // Secure cookies and the refusal of the embedded store) holds whatever a site passes here.
  const env = { ...process.env, ...options.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  return loadConfig(env, {
    redisGiven: typeof options.redis === "object" && options.redis !== null,
    secret: options.secret,
    siteSession: options.userIdOf !== undefined,
    mailGiven: options.mail !== undefined,
  });
}

/** A location file that cannot be read fails the start at once; reading it happens behind it. */
function checkReadable(file: string | undefined): void {
  if (!file || file === "off") return;
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`GEOIP_DATABASE: cannot read ${file} as a MaxMind City database (${(err as Error).message}).`);
  }
}

/** node-redis v5 clients (one server, Cluster, Sentinel) have these; ioredis and older node-redis do not. */
function checkRedisClient(client: unknown): void {
  const methods = ["get", "zAdd", "zRangeWithScores", "evalSha", "duplicate"];
  const missing = methods.filter((m) => typeof (client as Record<string, unknown> | null)?.[m] !== "function");
  if (missing.length > 0) {
    throw new ConfigError(
      `createSessions: \`redis\` must be a connected client from the "redis" package (createClient, createCluster or createSentinel); this one has no ${missing.join(", ")}.`,
    );
  }
  if ((client as { isOpen?: boolean }).isOpen === false) {
    throw new ConfigError("createSessions: the `redis` client is not connected: call client.connect() first (awaiting it is not needed), or pass the URL.");
  }
  // With node-redis's offline queue, every request waits while Redis is away (then fails
  // however it fails) instead of answering 503 at once. Readable on a one-server client.
  const { options } = client as { options?: { disableOfflineQueue?: boolean } };
  if (options && options.disableOfflineQueue !== true) {
    throw new ConfigError(
      "createSessions: create the `redis` client with `disableOfflineQueue: true` (createClient({ url, disableOfflineQueue: true })), so that while Redis is away pages answer 503 at once rather than wait.",
    );
  }
}
