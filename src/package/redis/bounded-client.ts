import type { RedisClientType } from "redis";
import { RedisStalledError, type StallWatch } from "./stall-watch";

/** Not commands: they manage the connection or answer at once; they are called as they are. */
const NOT_COMMANDS = new Set([
  "connect",
  "close",
  "quit",
  "disconnect",
  "destroy",
  "duplicate",
  "multi",
  "MULTI",
  "withTypeMapping",
  "on",
  "once",
  "off",
  "addListener",
  "removeListener",
  "removeAllListeners",
  "listenerCount",
  "listeners",
  "emit",
  "ref",
  "unref",
  "scanIterator",
]);

/** Redis has not answered since the start, within the bound: the request gets a 503 and may come again. */
export class RedisNotReadyError extends Error {
  constructor() {
    super("Redis has not answered yet: the sessions are starting");
  }
}

/** Waits for `ready` at most `timeoutMs`; after that, fails with RedisNotReadyError. */
export function withinBound(ready: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisNotReadyError()), timeoutMs);
  });
  return Promise.race([ready, expired]).finally(() => clearTimeout(timer));
}

export interface Bounds {
  /** Resolves once the first connection is up (and the package's setup done). */
  ready: Promise<void>;
  /** The longest one command may wait, its wait for `ready` included, in ms. */
  timeoutMs: number;
  /** Marks the link stalled when a command goes unanswered past the bound, and says whether it is. */
  stallWatch: StallWatch;
}

/**
 * The client as the package's stores use it: every command waits at most `timeoutMs`, for the
 * first connection and for its answer together, then fails with RedisStalledError (a 503).
 * node-redis has no per-command timeout, and a stalled link (no error, no close) would hold
 * every waiting request for as long as the stall lasts. The first command that times out marks
 * the link stalled, and from then on commands fail at once, until the stall watch's PING is
 * answered again: a request waits on a stalled Redis for one bound at most, not one per command.
 */
export function boundedClient(client: RedisClientType, bounds: Bounds): RedisClientType {
  let readyNow = false;
  bounds.ready.then(
    () => {
      readyNow = true;
    },
    () => {},
  );
  const bound = (command: () => unknown): Promise<unknown> => {
    if (bounds.stallWatch.stalled) return Promise.reject(new RedisStalledError());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (!readyNow) return reject(new RedisNotReadyError());
        bounds.stallWatch.markStalled();
        reject(new RedisStalledError());
      }, bounds.timeoutMs);
    });
    const answered = readyNow ? new Promise((resolve) => resolve(command())) : bounds.ready.then(command);
    // A command that loses the race still settles later: its outcome is nobody's to hear.
    answered.catch(() => {});
    return Promise.race([answered, expired]).finally(() => clearTimeout(timer));
  };
  return new Proxy(client, {
    get(target, property) {
      // The client's own getters read its private fields: they run on the client, not the proxy.
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string" || NOT_COMMANDS.has(property)) return value;
      return (...args: unknown[]) => bound(() => value.apply(target, args));
    },
  });
}
