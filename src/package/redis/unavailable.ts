// What a Redis error means for a request, apart from any Redis client's types: the main entry
// exports isRedisUnavailable, and a site without the "redis" package compiles against it.
import { RedisAwayError } from "./stall-watch";

/** Errors from Redis while it cannot be reached (down, failing over, loading); not a bad command. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // node-redis names its errors by class (ClientOfflineError, ...), not by err.name.
  const text = `${err.constructor.name} ${err.name} ${err.message} ${(err as { code?: string }).code ?? ""}`;
  if (
    /RedisAway|RedisStalled|RedisNotReady|ClientOffline|ClientClosed|SocketClosed|ConnectionTimeout|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|client is (offline|closed)|Socket closed|LOADING|READONLY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN/.test(
      text,
    )
  )
    return true;
  // node-redis's Sentinel client, while it holds no master client (between masters in a
  // failover, or closed), fails a command with a TypeError from inside itself.
  return err instanceof TypeError && /[\\/]@redis[\\/]client[\\/]/.test(err.stack ?? "");
}

/** Pause between two tries of a read while Redis is unavailable. */
const READ_RETRY_PAUSE_MS = 50;

/**
 * Runs an idempotent read, and runs it again while Redis is unavailable, for at most
 * `budgetMs`: during a Cluster failover the slot's new master takes over within a second or
 * two, and a page view that waits for it is better than a 503. Only reads: a write that failed
 * may have been applied, and is never sent twice on a guess. When the budget runs out with
 * Redis still unavailable, `onGaveUp` learns it (the outage is then refused at once).
 */
export async function retryRead<T>(read: () => Promise<T>, budgetMs: number, onGaveUp?: () => void): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      // An outage already known, or a stall that took its bound: trying again would only wait longer.
      if (!isRedisUnavailable(err) || err instanceof RedisAwayError) throw err;
      if (Date.now() + READ_RETRY_PAUSE_MS > deadline) {
        onGaveUp?.();
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, READ_RETRY_PAUSE_MS));
    }
  }
}
