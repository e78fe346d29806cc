import type { Store as RateLimitStore } from "express-rate-limit";
import { RedisStore as RedisRateLimitStore } from "rate-limit-redis";
import type { RedisClientType } from "redis";
import { isCluster, sendRaw } from "./client";

/**
 * rate-limit-redis loads its two scripts once, as the limiter starts, and keeps the outcome:
 * had Redis not answered at that moment (a failover, a restart), every later count would fail
 * with that same error until the server restarted, and with it every sign-up and sign-in.
 * After a failed count this store loads the scripts again before its next count: not at once,
 * since while Redis is away that load fails too, and the first count after Redis is back (a
 * sign-in, whose one-time claim is such a count) would fail on it.
 */
class ReloadingRateLimitStore extends RedisRateLimitStore {
  private failed = false;

  override increment(key: string) {
    return this.reloadOnFailure(() => super.increment(key));
  }

  override get(key: string) {
    return this.reloadOnFailure(() => super.get(key));
  }

  // A load that failed (Redis not there yet at the start) is done again before the next count.
  override loadIncrementScript(key?: string) {
    return this.noteFailure(super.loadIncrementScript(key));
  }

  override loadGetScript(key?: string) {
    return this.noteFailure(super.loadGetScript(key));
  }

  private noteFailure(load: Promise<string>): Promise<string> {
    load.catch(() => {
      this.failed = true;
    });
    return load;
  }

  private async reloadOnFailure<T>(count: () => Promise<T>): Promise<T> {
    if (this.failed) {
      this.failed = false;
      this.incrementScriptSha = this.loadIncrementScript();
      this.getScriptSha = this.loadGetScript();
      // Awaited by the count; a failure here must not be an unhandled rejection.
      this.incrementScriptSha.catch(() => {});
      this.getScriptSha.catch(() => {});
    }
    try {
      return await count();
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }
}

/**
 * Counters for express-rate-limit in the same Redis as the sessions. Its scripts load once
 * Redis is `ready` (it may still be connecting when the counters are made), however long that
 * takes; every count is a request's, and waits within the client's own bounds.
 */
export function redisRateLimitStore(client: RedisClientType, prefix: string, ready: Promise<void> = Promise.resolve()): RateLimitStore {
  if (isCluster(client)) {
    return new ReloadingRateLimitStore({ prefix, sendCommandCluster: ({ key, command }) => ready.then(() => sendRaw(client, key, command)) });
  }
  return new ReloadingRateLimitStore({ prefix, sendCommand: (...args: string[]) => ready.then(() => sendRaw(client, undefined, args)) });
}
