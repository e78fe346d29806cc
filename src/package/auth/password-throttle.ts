import type { Request } from "express";
import { MemoryStore, type Options, type Store } from "express-rate-limit";
import { addressKey } from "../addresses";
import type { Config } from "../config";
import { clientIp } from "../middleware/client-info";
import { accountKey, type DeviceCookies } from "./device-cookie";

export type RateLimitStoreFactory = (prefix: string) => Store | undefined;

/** Why a password may not be checked now, and for how long. */
export interface Throttled {
  retryAfter: number;
  message: string;
}

/** Whose password is checked: the email as typed, and the account's credential version when the account exists. */
export interface CheckedAccount {
  email: string;
  credentialVersion?: number;
}

/** A check's outcome: the password was right, wrong, or not checked at all. */
export type CheckOutcome = { outcome: "right" } | { outcome: "wrong" } | { outcome: "throttled"; throttled: Throttled };

/**
 * Password checks one client address may have running or waiting in this process at once. The
 * hashing queue is shared by everyone; one address flooding it, even with its own right
 * password, would otherwise leave people elsewhere with 503s.
 */
export const MAX_CHECKS_IN_FLIGHT_PER_ADDRESS = 4;

/**
 * Counters in the store the sessions use (Redis, through rate-limit-redis) or, on the embedded
 * store, in this process, each with its own window. A count is atomic across instances.
 */
export function openCounter(factory: RateLimitStoreFactory, prefix: string, windowMs: number): Store {
  const store = factory(prefix) ?? new MemoryStore();
  // A Redis store loads its scripts here; if Redis is away, the first count loads them again.
  Promise.resolve(store.init?.({ windowMs } as Options)).catch(() => {});
  return store;
}

/** True for the first request that counts this key in the counter's window, false for every later one (on every instance). */
export async function takeOnce(counter: Store, key: string): Promise<boolean> {
  return (await counter.increment(key)).totalHits === 1;
}

/**
 * Every password check, whether a sign-in, a re-authentication, a password change, an account
 * deletion or an administrator's action, goes through `check`, which runs it only when the
 * counters allow and counts it before it runs, so that concurrent guesses cannot all pass a
 * count taken after hashing:
 *
 * - a budget of checks, right or wrong, per client address (IPv6 by /64) and per account:
 *   nobody fills the hashing queue with sign-ins to their own account;
 * - failures per address and per account, reserved before hashing and given back when the
 *   password was right: people behind one office address who sign in correctly never use up
 *   each other's attempts;
 * - at most MAX_CHECKS_IN_FLIGHT_PER_ADDRESS checks of one address running or waiting here.
 *
 * Known devices (see DeviceCookies) are held to their own counts instead of the account's and
 * the address's: a browser that has signed in to the account since its password last changed
 * is not locked out by wrong passwords from elsewhere, nor by others behind its address.
 * Counter keys hold a hash of the email, never the address.
 */
export class PasswordThrottle {
  private readonly windowMs: number;
  private readonly failuresPerIp: Store;
  private readonly failuresPerAccount: Store;
  private readonly failuresPerDevice: Store;
  private readonly checksPerIp: Store;
  private readonly checksPerAccount: Store;
  private readonly checksPerDevice: Store;
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly config: Config,
    store: RateLimitStoreFactory,
    readonly devices: DeviceCookies,
  ) {
    this.windowMs = config.signinLimitWindow * 1000;
    const open = (prefix: string) => openCounter(store, prefix, this.windowMs);
    this.failuresPerIp = open("rl:ip:");
    this.failuresPerAccount = open("rl:account:");
    this.failuresPerDevice = open("rl:device:");
    this.checksPerIp = open("rl:checks:ip:");
    this.checksPerAccount = open("rl:checks:account:");
    this.checksPerDevice = open("rl:checks:device:");
  }

  /**
   * Runs `verify` (the password hash) if the counters allow: counted first, failures given
   * back when it was right. A check that throws (the hashing queue is full) is given back too.
   */
  async check(req: Request, account: CheckedAccount, verify: () => Promise<boolean>): Promise<CheckOutcome> {
    const address = addressKey(clientIp(req));
    const running = this.inFlight.get(address) ?? 0;
    if (running >= MAX_CHECKS_IN_FLIGHT_PER_ADDRESS) {
      return {
        outcome: "throttled",
        throttled: { retryAfter: 5, message: "Too many sign-ins from your network are being checked at once. Please try again in a few seconds." },
      };
    }
    this.inFlight.set(address, running + 1);
    try {
      const own = this.ownCounters(req, account);
      // Known devices spend only their own budgets; everyone else the address's too.
      const network = "from your network";
      const checks: Count[] = [{ store: own.checks, key: own.key, limit: this.config.signinChecksPerAccount, where: own.where }];
      const failures: Count[] = [{ store: own.failures, key: own.key, limit: this.config.signinLimitPerAccount, where: own.where }];
      if (!own.known) {
        checks.push({ store: this.checksPerIp, key: address, limit: this.config.signinChecksPerIp, where: network });
        failures.push({ store: this.failuresPerIp, key: address, limit: this.config.signinLimitPerIp, where: network });
      }
      const overChecks = await reserve(checks, this.windowMs);
      if (overChecks)
        return { outcome: "throttled", throttled: throttledUntil(overChecks.reset, this.windowMs, `Too many sign-in attempts ${overChecks.where}.`) };
      const overFailures = await reserve(failures, this.windowMs);
      if (overFailures) {
        await giveBack(checks);
        return { outcome: "throttled", throttled: throttledUntil(overFailures.reset, this.windowMs, `Too many wrong passwords ${overFailures.where}.`) };
      }
      let right: boolean;
      try {
        right = await verify();
      } catch (err) {
        await Promise.all([giveBack(checks), giveBack(failures)]).catch(() => {});
        throw err;
      }
      if (right) await giveBack(failures);
      return { outcome: right ? "right" : "wrong" };
    } finally {
      const left = (this.inFlight.get(address) ?? 1) - 1;
      if (left > 0) this.inFlight.set(address, left);
      else this.inFlight.delete(address);
    }
  }

  /** The known device's counters when the browser carries a device cookie for the account at its credential version; else the account's. */
  private ownCounters(req: Request, account: CheckedAccount) {
    const device = account.credentialVersion === undefined ? null : this.devices.knownDevice(req, account.email, account.credentialVersion);
    if (device !== null) return { known: true, checks: this.checksPerDevice, failures: this.failuresPerDevice, key: device, where: "from this device" };
    return { known: false, checks: this.checksPerAccount, failures: this.failuresPerAccount, key: accountKey(account.email), where: "on this account" };
  }
}

/** One count a check spends: which counter, under which key, up to which limit, and how a refusal names it. */
interface Count {
  store: Store;
  key: string;
  limit: number;
  where: string;
}

/**
 * Counts one on each counter; when any is then past its limit, every count is given back and
 * the first such counter is answered (with when it resets).
 */
async function reserve(counts: Count[], windowMs: number): Promise<{ reset: Date | undefined; where: string } | null> {
  const totals = await Promise.all(counts.map(({ store, key }) => store.increment(key)));
  const over = counts.findIndex(({ limit }, i) => totals[i].totalHits > limit);
  if (over === -1) return null;
  await giveBack(counts);
  return { reset: totals[over].resetTime ?? new Date(Date.now() + windowMs), where: counts[over].where };
}

async function giveBack(counts: Count[]): Promise<void> {
  await Promise.all(counts.map(({ store, key }) => store.decrement(key)));
}

/** "Please wait 3 minutes", with the seconds for Retry-After, until a counter's window resets. */
export function throttledUntil(resetTime: Date | undefined, windowMs: number, what: string): Throttled {
  const reset = resetTime?.getTime() ?? Date.now() + windowMs;
  const retryAfter = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
  const minutes = Math.ceil(retryAfter / 60);
  return { retryAfter, message: `${what} Please wait ${minutes === 1 ? "a minute" : `${minutes} minutes`} and try again.` };
}
