/**
 * The package's Redis door, "express-user-sessions/redis": the Redis store and the connections
 * as the package makes them, for a site that keeps data of its own beside the sessions (its
 * accounts, say) on the same Redis. It needs the "redis" package (node-redis 5 or 6); the main entry
 * does not, to compile or to run.
 */
export { closeRedis, connectConfiguredRedis } from "./redis/connect";
export { durableClient, openReplicaWait, type ReplicaWait, waitForReplicas } from "./redis/replica-wait";
export { Script } from "./redis/script";
export { RedisSessionStore, type RedisSessionStoreOptions } from "./session-store/redis-session-store";
