/**
 * The package's Redis door, "express-user-sessions/redis": the Redis store and the connections
 * as the package makes them, for a site that keeps data of its own beside the sessions (its
 * accounts, say) on the same Redis. It needs the "redis" package (node-redis 5 or 6); the main entry
 * does not, to compile or to run.
 */
import type { RedisClientType } from "redis";
import { boundedClient } from "./redis/bounded-client";
import type { Sessions } from "./surface";

export { closeRedis, connectConfiguredRedis } from "./redis/connect";
export { durableClient, openReplicaWait, type ReplicaWait, waitForReplicas } from "./redis/replica-wait";
export { Script } from "./redis/script";
export { RedisSessionStore, type RedisSessionStoreOptions } from "./session-store/redis-session-store";

/**
 * Your client, with every command run under the sessions' bound (`sessions.bounded`): your own
 * lookups on the same Redis (accounts, say) answer within REDIS_TIMEOUT, and at once while
 * Redis is known away, like the sessions' own. Connecting and closing stay on your client.
 */
export function boundedRedis<C extends RedisClientType>(client: C, sessions: Pick<Sessions, "bounded">): C {
  return boundedClient(client, (command) => sessions.bounded(async () => command())) as C;
}
