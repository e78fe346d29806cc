import type { Request, Response } from "express";
import type { Store as RateLimitStore } from "express-rate-limit";
import type { ActivityLog } from "../activity/activity-log";
import { recordActivity } from "../activity/record";
import type { CheckOutcome, PasswordThrottle } from "../auth/password-throttle";
import { describeSignIn } from "../auth/sign-in";
import { type DeviceNames, deviceNameOf, moveToNewId, nameNewId, regenerate, seriesOf } from "../middleware/current-user";
import { setFlash } from "../middleware/flash";
import { handleOf, type Lifetime } from "../session-store/session-record";
import { peekState, stateOf } from "../session-store/session-store";
import type { AccountSource, SessionAccount } from "../users/account";
import { accountLabel } from "../users/account";
import type { Locate } from "./location";

/** Wrong passwords one session may enter to confirm actions before it is signed out. */
export const MAX_PASSWORD_FAILURES_PER_SESSION = 5;

/** Why a password entered to confirm an action was not accepted. */
export interface PasswordRefusal {
  /**
   * 422: missing or wrong (the page again, with the message: a 401 would need a
   * WWW-Authenticate challenge, and lynx hides its body behind a question); 429: too many
   * wrong ones lately (wait `retryAfter` seconds); 401 only with `signedOut`.
   */
  status: 401 | 422 | 429;
  message: string;
  retryAfter?: number;
  /** The session was signed out after too many wrong passwords: send the person to sign in. */
  signedOut?: boolean;
}

export type Outcome<T> = { refused: PasswordRefusal } | { refused: null; value: T };

export interface PasswordChecksDeps {
  accounts: AccountSource;
  /** A session renewed after its password was entered keeps its device's name. */
  names: DeviceNames;
  activity: ActivityLog;
  throttle: PasswordThrottle;
  /** Wrong passwords per session (by handle), counted in the store: see openCounter. */
  sessionFailures: RateLimitStore;
  lifetime: Lifetime;
  /** SESSION_REAUTH_WINDOW, in seconds. */
  reauthWindow: number;
  now: () => number;
  locate: Locate;
  /** Told of each check's outcome (for metrics). */
  onOutcome?: (outcome: "ok" | "wrong" | "throttled" | "signed_out") => void;
  /**
   * Told when a session got a new id and a new sign-in time, with the account as it is now:
   * the expiry cookie follows it, and the device cookie its credential version.
   */
  onRenewed?: (req: Request, account: SessionAccount) => void;
  /** The package made the cookie (its own sign-in): a remembered one gets the full lifetime again. */
  ownsCookie: boolean;
}

/**
 * The password of the signed-in person, entered again to confirm something: ending sessions,
 * changing the password, deleting the account, an administrator's action. Every check goes
 * through the password throttle (per client IP and per account), each wrong password is in
 * the account's activity, and a session that enters too many wrong ones is signed out: a
 * stolen cookie must not be a way to guess the password that re-authentication asks for.
 */
export function passwordChecks(deps: PasswordChecksDeps) {
  const { accounts, names, activity, throttle, sessionFailures, lifetime, reauthWindow, now, locate, onOutcome, onRenewed, ownsCookie } = deps;

  /** Whether the password was entered longer ago than the re-authentication window. */
  function needsPassword(req: Request): boolean {
    return now() - (peekState(req.session)?.authAt ?? 0) > reauthWindow * 1000;
  }

  /** Checks the password always: null when it is right (and the window restarts). */
  async function verify(req: Request, password: unknown): Promise<PasswordRefusal | null> {
    if (typeof password !== "string" || password.length === 0) return { status: 422, message: "Enter your password to continue." };
    const user = req.sessionUser!;
    // This session's wrong passwords are counted in the store, and before the check runs, as
    // the throttle's are: concurrent guesses with one stolen cookie cannot all pass a count
    // that each request would otherwise read from its own copy of the session.
    const handle = handleOf(req.sessionID);
    const tries = (await sessionFailures.increment(handle)).totalHits;
    if (tries > MAX_PASSWORD_FAILURES_PER_SESSION) return signOutAfter(req, MAX_PASSWORD_FAILURES_PER_SESSION, false);
    let checked: CheckOutcome;
    try {
      checked = await throttle.check(req, { email: accountLabel(user.id, user.email), credentialVersion: peekState(req.session)?.credVersion }, async () =>
        password.length <= 256 ? accounts.verifyPassword(user.id, password) : false,
      );
    } catch (err) {
      await Promise.resolve(sessionFailures.decrement(handle)).catch(() => {});
      throw err;
    }
    if (checked.outcome === "throttled") {
      await sessionFailures.decrement(handle);
      onOutcome?.("throttled");
      return { status: 429, message: checked.throttled.message, retryAfter: checked.throttled.retryAfter };
    }
    onOutcome?.(checked.outcome === "right" ? "ok" : "wrong");
    if (checked.outcome === "right") {
      await sessionFailures.resetKey(handle);
      stateOf(req.session).authAt = now();
      return null;
    }
    await recordActivity(activity, user.id, req, "password_check_failed");
    if (tries < MAX_PASSWORD_FAILURES_PER_SESSION) return { status: 422, message: "That password is not correct." };
    return signOutAfter(req, tries, true);
  }

  /** Signs this session out after too many wrong passwords; the request that reached the limit records it. */
  async function signOutAfter(req: Request, failures: number, record: boolean): Promise<PasswordRefusal> {
    if (record) {
      await recordActivity(activity, req.sessionUser!.id, req, "signed_out_wrong_passwords", { detail: String(failures) });
      onOutcome?.("signed_out");
    }
    await regenerate(req);
    setFlash(req, "error", `You were signed out after ${failures} wrong passwords. Sign in again to continue.`);
    return { status: 401, message: "Signed out after too many wrong passwords.", signedOut: true };
  }

  /**
   * Re-authenticates for a sensitive action (the password only outside the window), runs it,
   * and, when the password was entered, gives the session a new id afterwards (a
   * re-authentication is an authentication, ASVS 7.2.4), whatever the action found.
   */
  async function withReauth<T>(req: Request, password: unknown, act: () => Promise<T>): Promise<Outcome<T>> {
    const entered = needsPassword(req);
    if (entered) {
      const refused = await verify(req, password);
      if (refused) return { refused };
    }
    const value = await act();
    if (entered) await renewSession(req);
    return { refused: null, value };
  }

  /** A new session id for the signed-in person; the old id ends. */
  async function renewSession(req: Request): Promise<void> {
    const account = req.sessionUser ? await accounts.findById(req.sessionUser.id) : null;
    if (!account) return;
    const persistent = peekState(req.session)?.persistent === true;
    const name = await deviceNameOf(names, req);
    const series = seriesOf(req);
    // The site's keys (its own sign-in among them) and its cookie come along to the new id.
    await moveToNewId(req);
    describeSignIn(req, account, persistent, now(), locate, true, series);
    if (ownsCookie && persistent) {
      const maxAge = Math.min(lifetime.idle, lifetime.absolute);
      req.session.cookie.originalMaxAge = maxAge;
      req.session.cookie.maxAge = maxAge;
    }
    onRenewed?.(req, account);
    req.sessionUser!.sessionHandle = handleOf(req.sessionID);
    await nameNewId(names, req, name);
  }

  return { needsPassword, verify, withReauth, renewSession };
}

export type PasswordChecks = ReturnType<typeof passwordChecks>;

/**
 * A refused password on a page: signed out, to the sign-in page; throttled, 429 with
 * Retry-After; otherwise the page again, with the message, as `render` shows it.
 */
export function answerRefusal(res: Response, refused: PasswordRefusal, render: (status: number, message: string) => unknown, signInPath = "/login"): unknown {
  if (refused.signedOut) return res.redirect(303, signInPath);
  if (refused.retryAfter !== undefined) res.set("Retry-After", String(refused.retryAfter));
  return render(refused.status, refused.message);
}
