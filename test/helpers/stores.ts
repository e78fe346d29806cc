import { randomBytes } from "node:crypto";
import type { SessionData } from "express-session";
import type { RedisClientType } from "redis";
import { loadConfig } from "../../src/package/config";
import { connectConfiguredRedis } from "../../src/package/redis/connect";
import { EmbeddedSessionStore } from "../../src/package/session-store/embedded-session-store";
import { RedisSessionStore } from "../../src/package/session-store/redis-session-store";
import type { CookieShape, Lifetime } from "../../src/package/session-store/session-record";
import { attachState, type SessionState, type SessionStore } from "../../src/package/session-store/session-store";
import { testRedisEnv } from "./topology";

export const testCookie: CookieShape = { httpOnly: true, path: "/", sameSite: "lax", secure: false };

export function lifetime(overrides: Partial<Lifetime> = {}): Lifetime {
  return { idle: 60_000, browserIdle: 60_000, absolute: 120_000, anonymous: 60_000, updateAge: 1_000, ...overrides };
}

/** A prefix no other test uses, so tests never need to flush a shared Redis. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString("hex")}:`;
}

/** A client for this run's test Redis (one server, a Cluster or Sentinel), connected as the product connects. */
export async function connectTestRedis(env: Record<string, string> = {}): Promise<RedisClientType> {
  const client = await connectConfiguredRedis(loadConfig({ ...testRedisEnv(), ...env }));
  client.on("error", () => {});
  return client;
}

export interface StoreOptions {
  lifetime?: Partial<Lifetime>;
  maxSessionsPerUser?: number;
  maxSessions?: number;
  /** A store for a site's own session(): it keeps the cookies it is given. */
  keepCookie?: boolean;
}

export interface StoreUnderTest {
  store: SessionStore;
  /** The store's clock: expiry tests move it instead of sleeping. */
  clock: TestClock;
  close(): Promise<void>;
}

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

/** A clock that starts at the real time and moves only when told. */
export function testClock(): TestClock {
  let at = Date.now();
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

export type StoreFactory = (options?: StoreOptions) => Promise<StoreUnderTest>;

export const redisStoreFactory: StoreFactory = async (options = {}) => redisStoreOn(await connectTestRedis(), options);

/** The Redis store under test on a connected client (node-redis 6, or 5 given as the same type), under a prefix of its own. */
export function redisStoreOn(client: RedisClientType, options: StoreOptions = {}): StoreUnderTest {
  const clock = testClock();
  const store = new RedisSessionStore({
    client,
    now: clock.now,
    prefix: uniquePrefix(),
    lifetime: lifetime(options.lifetime),
    cookie: testCookie,
    keepCookie: options.keepCookie,
    maxSessionsPerUser: options.maxSessionsPerUser ?? 100,
  });
  return { store, clock, close: async () => void (await client.close()) };
}

export const embeddedStoreFactory: StoreFactory = async (options = {}) => {
  const clock = testClock();
  const store = new EmbeddedSessionStore({
    now: clock.now,
    lifetime: lifetime(options.lifetime),
    cookie: testCookie,
    keepCookie: options.keepCookie,
    maxSessionsPerUser: options.maxSessionsPerUser ?? 100,
    maxSessions: options.maxSessions ?? 1000,
  });
  return { store, clock, close: () => store.close() };
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** get() through its callback, the way express-session calls it. */
/** A session object to write, with the package's state beside it (as the store reads it back). */
export function withState(sess: object, state: SessionState): SessionData {
  attachState(sess, state);
  return sess as SessionData;
}

export function readSession(store: SessionStore, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}
