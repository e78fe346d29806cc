/** How often the link to Redis is checked, and how long a PING may go unanswered before the link counts as stalled. */
export const STALL_CHECK_MS = 5000;
export const STALL_TIMEOUT_MS = 5000;

/** Refused at once while the link to Redis has stopped answering: the request gets a 503, not an answer from a cache that may be stale. */
export class RedisStalledError extends Error {
  constructor() {
    super("Redis stopped answering: the connection is stalled");
  }
}

export interface StallWatch {
  /** True while a PING has gone unanswered for longer than the timeout. */
  readonly stalled: boolean;
  /** A command went unanswered past its bound: stalled now, until the next PING is answered. */
  markStalled(): void;
  stop(): void;
}

/**
 * Watches a connection that may stall without closing (a proxy or a network path that holds
 * bytes: no error, no close, no reply). The client's cache hears of changed keys over that
 * same connection, so while it is stalled a session ended on another instance would still be
 * served from memory, for as long as the stall lasts. A PING every `intervalMs`, unanswered
 * after `timeoutMs`, marks the link stalled and calls `onStall` (which drops the cache); the
 * answer, whenever it comes, clears the mark. A PING that fails (the client knows it is
 * offline) is not a stall: node-redis already fails commands fast then.
 * A revoked session is thus refused within intervalMs + timeoutMs of a stall, 10 s by default.
 */
export function watchForStalls(ping: () => Promise<unknown>, onStall: () => void, intervalMs = STALL_CHECK_MS, timeoutMs = STALL_TIMEOUT_MS): StallWatch {
  let stalled = false;
  let pending = false;
  const markStalled = () => {
    if (stalled) return;
    stalled = true;
    onStall();
  };
  const check = () => {
    if (pending) return; // the last PING is still out: it either marked the stall or will clear it
    pending = true;
    const timer = setTimeout(markStalled, timeoutMs);
    timer.unref();
    ping()
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        pending = false;
        stalled = false;
      });
  };
  const interval = setInterval(check, intervalMs);
  interval.unref();
  return {
    get stalled() {
      return stalled;
    },
    markStalled,
    stop: () => clearInterval(interval),
  };
}
