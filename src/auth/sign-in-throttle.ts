import { createHash } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { type Store, rateLimit } from "express-rate-limit";
import type { Config } from "../config";
import { normalizeEmail } from "../users/user-repository";

export type RateLimitStoreFactory = (prefix: string) => Store | undefined;

export interface SignInThrottle {
  /** Every sign-in and sign-up attempt from one client IP. */
  perIp: RequestHandler;
  /** Failed sign-ins on one account, from anywhere. */
  perAccount: RequestHandler;
}

function tooMany(what: string) {
  return (req: Request, res: Response) => {
    const info = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit;
    const reset = info?.resetTime?.getTime() ?? Date.now() + 60_000;
    const seconds = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
    const minutes = Math.ceil(seconds / 60);
    res.set("Retry-After", String(seconds));
    res.status(429).render("error", {
      title: "Too many attempts",
      status: 429,
      message: `Too many sign-in attempts ${what}. Please wait ${minutes === 1 ? "a minute" : `${minutes} minutes`} and try again.`,
    });
  };
}

/**
 * Sign-in throttling with express-rate-limit, counted in Redis (rate-limit-redis) or, on the
 * embedded store, in this process. The account key is a hash of the lower-cased email, so the
 * counters hold no addresses.
 */
export function signInThrottle(config: Config, store: RateLimitStoreFactory): SignInThrottle {
  const windowMs = config.signinLimitWindow * 1000;
  // X-Forwarded-For is ignored on purpose unless TRUST_PROXY is set; no need to warn about it.
  const validate = { xForwardedForHeader: false };
  return {
    perIp: rateLimit({
      windowMs,
      limit: config.signinLimitPerIp,
      standardHeaders: "draft-7",
      legacyHeaders: false,
      store: store("rl:ip:"),
      validate,
      handler: tooMany("from your network"),
    }),
    perAccount: rateLimit({
      windowMs,
      limit: config.signinLimitPerAccount,
      standardHeaders: false,
      legacyHeaders: false,
      skipSuccessfulRequests: true,
      store: store("rl:account:"),
      validate,
      keyGenerator: (req) => {
        const email = (req.body as Record<string, unknown> | undefined)?.email;
        const id = typeof email === "string" ? normalizeEmail(email) : "";
        return createHash("sha256").update(id).digest("base64url");
      },
      handler: tooMany("on this account"),
    }),
  };
}
