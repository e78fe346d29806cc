import type { Request, RequestHandler, Response } from "express";
import { rateLimit } from "express-rate-limit";
import type { Sessions } from "../../package";
import { addressKey, type Config, clientIp, normalizeEmail, type Throttled, throttledUntil } from "../../package/site-kit-entry";

/** Counters in the store the sessions use (Redis, or this process on the embedded store). */
type RateLimitStoreFactory = Sessions["rateLimitStore"];

/** Answers a throttled form: 429 with Retry-After and the reason. */
export function tooMany(res: Response, throttled: Throttled): void {
  res.set("Retry-After", String(throttled.retryAfter));
  res.status(429).render("error", { title: "Too many attempts", status: 429, message: throttled.message });
}

/**
 * Sign-ups per client address (an IPv6 /64): every attempt counts, successful ones too, since
 * each makes an account. A limit of its own, so a busy network signing in is not held back by it.
 */
export function signUpLimit(config: Config, store: RateLimitStoreFactory): RequestHandler {
  return addressLimit(config, store, "rl:signup:", config.signupLimitPerIp, "Too many accounts were created from your network.");
}

/** Password-reset mails asked for per client address: each sends a mail, to an address the asker need not own. */
export function resetLimit(config: Config, store: RateLimitStoreFactory): RequestHandler {
  return addressLimit(config, store, "rl:reset:", config.signupLimitPerIp, "Too many password resets were asked for from your network.");
}

/** Reset (or sign-up) mails one address (an account's, or any other) receives per hour, whoever asks and from wherever. */
const MAILS_PER_ADDRESS = 3;
const HOUR_MS = 3600 * 1000;

/**
 * Password-reset mails per email address asked for: beyond the limit, the form answers as it
 * always does (`answer`) and sends nothing, so the count says nothing about whether the
 * address has an account, and nobody fills a mailbox from many networks.
 */
export function resetMailLimit(store: RateLimitStoreFactory, answer: RequestHandler): RequestHandler {
  return mailLimit(store, "rl:reset-mail:", answer);
}

/** Sign-up mails per email address, the same way: beyond the limit, the same answer and no mail. */
export function signUpMailLimit(store: RateLimitStoreFactory, answer: RequestHandler): RequestHandler {
  return mailLimit(store, "rl:signup-mail:", answer);
}

function mailLimit(store: RateLimitStoreFactory, prefix: string, answer: RequestHandler): RequestHandler {
  return rateLimit({
    windowMs: HOUR_MS,
    limit: MAILS_PER_ADDRESS,
    standardHeaders: false,
    legacyHeaders: false,
    store: store(prefix),
    keyGenerator: (req) => {
      const email = (req.body as Record<string, unknown> | undefined)?.email;
      return typeof email === "string" ? normalizeEmail(email).slice(0, 320) : "";
    },
    validate: { xForwardedForHeader: false },
    handler: answer,
  });
}

/** Every attempt of a form counted per client address (an IPv6 /64), in the store every instance shares. */
function addressLimit(config: Config, store: RateLimitStoreFactory, prefix: string, limit: number, message: string): RequestHandler {
  const windowMs = config.signinLimitWindow * 1000;
  return rateLimit({
    windowMs,
    limit,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    store: store(prefix),
    keyGenerator: (req) => addressKey(clientIp(req)),
    // X-Forwarded-For is ignored on purpose unless TRUST_PROXY is set; no need to warn about it.
    validate: { xForwardedForHeader: false },
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      tooMany(res, throttledUntil(reset, windowMs, message));
    },
  });
}
