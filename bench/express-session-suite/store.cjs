// The store under test, in place of express-session's MemoryStore: the copy of the suite
// that bench/express-session-suite.sh runs requires this file where index.js required
// './session/memory', so `new session.MemoryStore()` in the tests and the default store of
// `session()` both make one of these. Which one: ES_STORE (redis, embedded, connect-redis).
// Each store gets keys of its own (a prefix per store), as each MemoryStore starts empty.
"use strict";

const path = require("node:path");

const root = path.resolve(__dirname, "../..");
const dist = path.join(root, "dist/package");
const kind = process.env.ES_STORE;

/** Every store made, closed after the suite. */
const stores = [];
let client;
let made = 0;

function redisClient() {
  if (!client) {
    const { createClient } = require("redis");
    // As docs/adopting.md has a site make its client for createSessions (connected in hooks.cjs).
    client = createClient({ url: process.env.ES_REDIS_URL, disableOfflineQueue: true });
    client.on("error", (err) => console.error("redis:", err.message));
  }
  return client;
}

/**
 * The rules session-backend.ts gives the stores, from the default configuration, for a site
 * that keeps its own sign-in: createSessions({ userIdOf }) opens the backend with
 * keepCookie: true (the drop-in mode, `sessions.store` in the site's own session()). The
 * metrics and activity callbacks (onEnded, observe, onExpired) are left out: they only count.
 */
function rules() {
  const { loadConfig } = require(path.join(dist, "config.js"));
  const config = loadConfig({}, { redisGiven: kind !== "embedded", secrets: ["express-session-suite-secret-0123456789"] });
  return {
    config,
    rules: {
      lifetime: config.lifetime,
      cookie: config.cookie,
      keepCookie: true,
      maxSessionsPerUser: config.maxSessionsPerUser,
      tombstoneTtl: config.tombstoneTtl * 1000,
    },
  };
}

function make() {
  made++;
  const prefix = `es-suite:${process.pid}:${made}:`;
  if (kind === "redis") {
    const { RedisSessionStore } = require(path.join(dist, "session-store/redis-session-store.js"));
    const { config, rules: r } = rules();
    return new RedisSessionStore({ ...r, client: redisClient(), prefix: `${prefix}sess:`, readRetryMs: config.redisReadRetryMs });
  }
  if (kind === "embedded") {
    const { EmbeddedSessionStore } = require(path.join(dist, "session-store/embedded-session-store.js"));
    const { config, rules: r } = rules();
    return new EmbeddedSessionStore({ ...r, maxSessions: config.embeddedMaxSessions });
  }
  if (kind === "connect-redis") {
    const { RedisStore } = require("connect-redis");
    return new RedisStore({ client: redisClient(), prefix });
  }
  throw new Error(`ES_STORE must be redis, embedded or connect-redis, not ${kind}`);
}

/** Called with `new` (`new session.MemoryStore()`): returns the store made, not `this`. */
function StoreUnderTest() {
  const store = make();
  stores.push(store);
  return store;
}

/**
 * Loads the store's modules before the suite starts: mocha's --check-leaks takes the globals
 * that exist then as known (zod, which the package's config uses, sets two of its own).
 */
function preload() {
  if (kind === "connect-redis") require("connect-redis");
  else {
    require(path.join(dist, "config.js"));
    require(path.join(dist, `session-store/${kind === "redis" ? "redis" : "embedded"}-session-store.js`));
  }
  if (kind !== "embedded") require("redis");
}

module.exports = StoreUnderTest;
module.exports.preload = preload;
module.exports.stores = stores;
module.exports.connect = async () => {
  if (kind !== "embedded") await redisClient().connect();
};
module.exports.close = async () => {
  for (const store of stores) await store.close?.();
  if (client?.isOpen) await client.close();
};
