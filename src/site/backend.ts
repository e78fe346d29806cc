import type { RedisClientType } from "redis";
import { type BackendEvents, createSessions, type Metrics, type Sessions } from "../package";
import { boundedRedis, closeRedis, connectConfiguredRedis, openReplicaWait } from "../package/redis-entry";
import { type Config, usesRedis } from "../package/site-kit-entry";
import { newPassword, PASSWORD_RULES } from "./forms";
import { EmbeddedUserRepository } from "./users/embedded-user-repository";
import { PasswordHasher } from "./users/password";
import { RedisUserRepository } from "./users/redis-user-repository";
import { accountsOf, type UserRepository } from "./users/user-repository";

/** This server's backend: the sessions (the package, as any site uses it) and its own accounts beside them. */
export interface Backend {
  kit: Sessions;
  users: UserRepository;
  /** The Redis client, when the backend is Redis. */
  redis?: RedisClientType;
  close(): Promise<void>;
}

/** What tests and benchmarks set for themselves; the server takes everything from configuration. */
export interface BackendOptions {
  events?: BackendEvents;
  /** Put before every Redis key ("" for the server): a test's or a benchmark's own keyspace. */
  keyPrefix?: string;
  /** A connected client to use rather than connecting from configuration; the caller closes it. */
  client?: RedisClientType;
  /** The clock the sessions are judged by (ms since the epoch). */
  now?: () => number;
  /** How passwords are checked; the product's cost by default. */
  passwords?: PasswordHasher;
  /** Prometheus metrics to count into (METRICS_PORT). */
  metrics?: Metrics;
}

/** The one place the server, the command-line tools, the tests and the benchmarks build their backend. */
export async function openBackend(config: Config, options: BackendOptions = {}): Promise<Backend> {
  const { events = {}, keyPrefix = "" } = options;
  const owned = !options.client && usesRedis(config) ? await connectConfiguredRedis(config) : undefined;
  if (owned) owned.on("error", (err: Error) => events.redisError?.(err));
  const client = options.client ?? owned;
  // A password change waits for replicas like a sign-in does (REDIS_WAIT_REPLICAS).
  const wait = client ? await openReplicaWait(client, config.redisWaitReplicas, events) : undefined;
  // The accounts' lookups wait on Redis as the sessions do: REDIS_TIMEOUT at most, and not at
  // all while Redis is known away (the sessions are made below, before any lookup runs).
  let kit: Sessions | undefined;
  const bounded = client && boundedRedis(client, { bounded: (command) => kit!.bounded(command) });
  const users = bounded ? new RedisUserRepository(bounded, `${keyPrefix}user:`, wait) : new EmbeddedUserRepository();
  const passwords = options.passwords ?? new PasswordHasher();
  kit = createSessions({
    accounts: accountsOf(users, passwords),
    // The sessions pages are under the settings (app.ts): the links in mail point there.
    pagesAt: "/settings",
    // "This wasn't me" in a sign-in alert: a new password on the spot, under the rules of the settings page.
    setPassword: async (userId, password) => {
      const checked = newPassword("New password").safeParse(password);
      if (!checked.success) return checked.error.issues[0].message;
      const updated = await users.update(userId, { passwordHash: await passwords.hash(password), newCredentials: true });
      return updated ? null : "That account no longer exists.";
    },
    passwordRules: PASSWORD_RULES,
    redis: client,
    config,
    keyPrefix,
    now: options.now,
    events,
    metrics: options.metrics,
    forbidden: (_req, res) => res.status(403).render("unauthorized", { title: "Not allowed" }),
  });
  // The server, its tools and its tests start once Redis answered and the location data is loaded.
  await kit.ready();
  return {
    kit,
    users,
    redis: client,
    close: async () => {
      await kit.close();
      await Promise.all([wait?.client ? closeRedis(wait.client) : undefined, owned ? closeRedis(owned) : undefined]);
    },
  };
}
