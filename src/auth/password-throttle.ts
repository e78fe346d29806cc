import type { Request, RequestHandler, Response } from "express";
import { MemoryStore, type Options, rateLimit, type Store } from "express-rate-limit";
import type { Config } from "../config";
import { clientIp } from "../middleware/client-info";
import { accountKey, type DeviceCookies } from "./device-cookie";

export type RateLimitStoreFactory = (prefix: string) => Store | undefined;

/** Why a password may not be checked now, and for how long. */
export interface Throttled {
  retryAfter: number;
  message: string;
}

/**
 * Every password check, whether a sign-in, a re-authentication, a password change, an account
 * deletion or an administrator's action, goes through here: one count of failures per client
 * IP and one per account, in Redis (rate-limit-redis) or, on the embedded store, in this process.
 *
 * Only failures count: people behind one office or school address who sign in correctly never
 * use up each other's attempts. The account count spares known devices (see DeviceCookies): a
 * browser that has signed in to the account before is held to its own failures instead, so
 * wrong passwords from elsewhere cannot lock the owner out. Counter keys hold a hash of the
 * email, never the address.
 */
export class PasswordThrottle {
  private readonly windowMs: number;
  private readonly perIp: Store;
  private readonly perAccount: Store;
  private readonly perDevice: Store;

  constructor(
    private readonly config: Config,
    store: RateLimitStoreFactory,
    readonly devices: DeviceCookies,
  ) {
    this.windowMs = config.signinLimitWindow * 1000;
    const open = (prefix: string) => {
      const s = store(prefix) ?? new MemoryStore();
      // A Redis store loads its scripts here; if Redis is away, the first count loads them again.
      Promise.resolve(s.init?.({ windowMs: this.windowMs } as Options)).catch(() => {});
      return s;
    };
    this.perIp = open("rl:ip:");
    this.perAccount = open("rl:account:");
    this.perDevice = open("rl:device:");
  }

  /** Null when the password may be checked; otherwise how long to wait. Call before hashing. */
  async check(req: Request, email: string): Promise<Throttled | null> {
    const own = this.ownCounter(req, email);
    const [ip, mine] = await Promise.all([this.perIp.get?.(clientIp(req)), own.store.get?.(own.key)]);
    if (ip && ip.totalHits >= this.config.signinLimitPerIp) return throttled(ip.resetTime, this.windowMs, "Too many wrong passwords from your network.");
    if (mine && mine.totalHits >= this.config.signinLimitPerAccount) return throttled(mine.resetTime, this.windowMs, `Too many wrong passwords ${own.where}.`);
    return null;
  }

  /** A wrong password: counted for the client IP, and for the account or the known device. */
  async failed(req: Request, email: string): Promise<void> {
    const own = this.ownCounter(req, email);
    await Promise.all([this.perIp.increment(clientIp(req)), own.store.increment(own.key)]);
  }

  /** The known device's own count when the browser carries a device cookie for the account; else the account's. */
  private ownCounter(req: Request, email: string): { store: Store; key: string; where: string } {
    const device = this.devices.knownDevice(req, email);
    if (device !== null) return { store: this.perDevice, key: device, where: "from this device" };
    return { store: this.perAccount, key: accountKey(email), where: "on this account" };
  }
}

/** "Please wait 3 minutes", with the seconds for Retry-After, until a counter's window resets. */
function throttled(resetTime: Date | undefined, windowMs: number, what: string): Throttled {
  const reset = resetTime?.getTime() ?? Date.now() + windowMs;
  const retryAfter = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
  const minutes = Math.ceil(retryAfter / 60);
  return { retryAfter, message: `${what} Please wait ${minutes === 1 ? "a minute" : `${minutes} minutes`} and try again.` };
}

/** Answers a throttled form: 429 with Retry-After and the reason. */
export function tooMany(res: Response, throttled: Throttled): void {
  res.set("Retry-After", String(throttled.retryAfter));
  res.status(429).render("error", { title: "Too many attempts", status: 429, message: throttled.message });
}

/**
 * Sign-ups per client IP: every attempt counts, successful ones too, since each makes an
 * account. A limit of its own, so a busy network signing in is not held back by it.
 */
export function signUpLimit(config: Config, store: RateLimitStoreFactory): RequestHandler {
  const windowMs = config.signinLimitWindow * 1000;
  return rateLimit({
    windowMs,
    limit: config.signupLimitPerIp,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    store: store("rl:signup:"),
    // X-Forwarded-For is ignored on purpose unless TRUST_PROXY is set; no need to warn about it.
    validate: { xForwardedForHeader: false },
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      tooMany(res, throttled(reset, windowMs, "Too many accounts were created from your network."));
    },
  });
}
