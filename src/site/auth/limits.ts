import type { Request, RequestHandler, Response } from "express";
import { rateLimit } from "express-rate-limit";
import { addressKey, type Config, clientIp, type RateLimitStoreFactory, type Throttled, throttledUntil } from "../../package";

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
  const windowMs = config.signinLimitWindow * 1000;
  return rateLimit({
    windowMs,
    limit: config.signupLimitPerIp,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    store: store("rl:signup:"),
    keyGenerator: (req) => addressKey(clientIp(req)),
    // X-Forwarded-For is ignored on purpose unless TRUST_PROXY is set; no need to warn about it.
    validate: { xForwardedForHeader: false },
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      tooMany(res, throttledUntil(reset, windowMs, "Too many accounts were created from your network."));
    },
  });
}
