import type { RedisClientType } from "redis";
import { RedisStalledError } from "./stall-watch";

/**
 * The stores take one client type; behind it may be one server, a Cluster client or a
 * Sentinel client (backend.ts). These are the only places that tell them apart.
 */
export function isCluster(client: RedisClientType): boolean {
  return "masters" in client;
}

/** A raw command, sent to the node that holds `key` on a Cluster, or to the (current) master. */
export function sendRaw<T>(client: RedisClientType, key: string | undefined, args: string[]): Promise<T> {
  if (isCluster(client)) {
    return (client as unknown as { sendCommand(key: string | undefined, readOnly: boolean, args: string[]): Promise<T> }).sendCommand(key, false, args);
  }
  if ("getSentinelNode" in client) {
    return (client as unknown as { sendCommand(readOnly: boolean, args: string[]): Promise<T> }).sendCommand(false, args);
  }
  return client.sendCommand(args) as Promise<T>;
}

/** Errors from Redis while it cannot be reached (down, failing over, loading); not a bad command. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // node-redis names its errors by class (ClientOfflineError, ...), not by err.name.
  const text = `${err.constructor.name} ${err.name} ${err.message} ${(err as { code?: string }).code ?? ""}`;
  if (
    /RedisStalled|RedisNotReady|ClientOffline|ClientClosed|SocketClosed|ConnectionTimeout|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|client is (offline|closed)|Socket closed|LOADING|READONLY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN/.test(
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
 * may have been applied, and is never sent twice on a guess.
 */
export async function retryRead<T>(read: () => Promise<T>, budgetMs: number): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      // A stall already took its bound: trying again would only wait longer.
      if (!isRedisUnavailable(err) || err instanceof RedisStalledError || Date.now() + READ_RETRY_PAUSE_MS > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, READ_RETRY_PAUSE_MS));
    }
  }
}
