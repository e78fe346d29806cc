/** How often the link to Redis is checked, and how long a PING may go unanswered before the link counts as stalled. */
export const STALL_CHECK_MS = 5000;
export const STALL_TIMEOUT_MS = 5000;
/** While Redis is away, how often a PING asks whether it is back: a site recovers within this of Redis answering. */
export const AWAY_PROBE_MS = 200;

/** Refused at once while Redis is known to be away: the request gets a 503 (Retry-After), not a wait. */
export class RedisAwayError extends Error {
  constructor(message = "Redis cannot be reached: refused at once until it answers again") {
    super(message);
  }
}

/** Refused at once while the link to Redis has stopped answering: the request gets a 503, not an answer from a cache that may be stale. */
export class RedisStalledError extends RedisAwayError {
  constructor() {
    super("Redis stopped answering: the connection is stalled");
  }
}

/** Redis has not answered since the start, within the bound: the request gets a 503 and may come again. */
export class RedisNotReadyError extends RedisAwayError {
  constructor() {
    super("Redis has not answered yet: the sessions are starting");
  }
}

/** Why Redis counts as away: no answer on an open link, refused connections, or never reached since the start. */
export type AwayReason = "stalled" | "refused" | "not-ready";

export interface StallWatch {
  /** True from the first wait that ran out its bound until a PING is answered: commands are refused at once meanwhile. */
  readonly away: boolean;
  /** The error a command is refused with while away. */
  refusal(): RedisAwayError;
  /** A command went unanswered past its bound: stalled now, until a PING is answered. */
  markStalled(): void;
  /** Redis could not be reached within the bound (refused, or not reached since the start): away until a PING is answered. */
  markAway(reason: Exclude<AwayReason, "stalled">): void;
  /** Asks at once whether Redis is back (the client says it reconnected). */
  probe(): void;
  /** Redis answered (the first connection is up): away no more. */
  answered(): void;
  stop(): void;
}

/**
 * One outage, learned once. The first wait that runs out its bound (a command on a stalled
 * link, a read that found Redis refusing for the whole retry budget, the first connection not
 * made in time) marks Redis away, and from then on every command is refused at once (a 503),
 * until a PING is answered: a PING goes out every AWAY_PROBE_MS meanwhile, so pages come back
 * within that of Redis answering. Without it, every request of an outage would wait the full
 * bound: an outage that got slower, not shorter.
 *
 * It also watches a connection that may stall without closing (a paused server, a proxy or a
 * route that holds bytes: no error, no close, no reply). The client's cache hears of changed
 * keys over that same connection, so while it is stalled a session ended on another instance
 * would still be served from memory. A PING every `intervalMs`, unanswered after `timeoutMs`,
 * marks the link stalled and calls `onStall` (which drops the cache). A PING that fails while
 * Redis is not known away (the client knows it is offline) is no stall: node-redis fails
 * commands fast then, and the session reads learn it within their retry budget.
 * A revoked session is thus refused within intervalMs + timeoutMs of a stall, 10 s by default.
 */
export function watchForStalls(ping: () => Promise<unknown>, onStall: () => void, intervalMs = STALL_CHECK_MS, timeoutMs = STALL_TIMEOUT_MS): StallWatch {
  let reason: AwayReason | undefined;
  let pending = false;
  let probing: NodeJS.Timeout | undefined;
  const markAway = (why: AwayReason) => {
    if (reason !== undefined) return;
    reason = why;
    if (why === "stalled") onStall();
    probing = setInterval(check, AWAY_PROBE_MS);
    probing.unref();
    check();
  };
  const back = () => {
    reason = undefined;
    clearInterval(probing);
    probing = undefined;
  };
  function check() {
    if (pending) return; // the last PING is still out: it either marks the stall or ends it
    pending = true;
    const timer = setTimeout(() => markAway("stalled"), timeoutMs);
    timer.unref();
    ping()
      .then(back, () => {
        // Failed at once: the client is offline. Away stays away; otherwise node-redis fails fast.
      })
      .finally(() => {
        clearTimeout(timer);
        pending = false;
      });
  }
  const interval = setInterval(check, intervalMs);
  interval.unref();
  return {
    get away() {
      return reason !== undefined;
    },
    refusal: () => (reason === "stalled" ? new RedisStalledError() : reason === "not-ready" ? new RedisNotReadyError() : new RedisAwayError()),
    markStalled: () => markAway("stalled"),
    markAway,
    probe: () => {
      if (reason !== undefined) check();
    },
    answered: back,
    stop: () => {
      clearInterval(interval);
      back();
    },
  };
}
