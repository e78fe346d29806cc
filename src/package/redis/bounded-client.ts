import type { RedisClientType } from "redis";
import { RedisNotReadyError, type StallWatch } from "./stall-watch";

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

/** Runs one command of Redis within the bounds; see boundedClient. */
export type Bound = <T>(command: () => T | Promise<T>) => Promise<T>;

/**
 * Every command waits at most `timeoutMs`, for the first connection and for its answer
 * together. node-redis has no per-command timeout, and a stalled link (no error, no close)
 * would hold every waiting request for as long as the stall lasts. The first command whose
 * wait runs out marks Redis away (stalled, or not reached since the start), and from then on
 * commands fail at once, until the watch's PING is answered again: a request waits on an
 * outage for one bound at most, and only the requests of its first bound wait at all.
 */
export function bound(bounds: Bounds): Bound {
  let readyNow = false;
  const { stallWatch } = bounds;
  bounds.ready.then(
    () => {
      readyNow = true;
      // Before any command that waited for the start runs: they are sent, not refused.
      stallWatch.answered();
    },
    () => {},
  );
  return <T>(command: () => T | Promise<T>): Promise<T> => {
    if (stallWatch.away) return Promise.reject(stallWatch.refusal());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (readyNow) stallWatch.markStalled();
        else stallWatch.markAway("not-ready");
        reject(stallWatch.refusal());
      }, bounds.timeoutMs);
    });
    const answered = readyNow ? new Promise<T>((resolve) => resolve(command())) : bounds.ready.then(command);
    // A command that loses the race still settles later: its outcome is nobody's to hear.
    answered.catch(() => {});
    return Promise.race([answered, expired]).finally(() => clearTimeout(timer));
  };
}

/** The client as the package's stores use it: every command through `within` (bound() above). */
export function boundedClient(client: RedisClientType, within: Bound): RedisClientType {
  return new Proxy(client, {
    get(target, property) {
      // The client's own getters read its private fields: they run on the client, not the proxy.
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string" || NOT_COMMANDS.has(property)) return value;
      return (...args: unknown[]) => within(() => value.apply(target, args));
    },
  });
}
