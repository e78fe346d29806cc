import type { Request, RequestHandler } from "express";
import type { Lifetime } from "../session-store/session-record";
import { expiryOf, handleOf, isActivityStale } from "../session-store/session-record";
import type { Locate } from "../sessions/location";
import { type AccountSource, snapshotOf } from "../users/account";
import { clientIp, userAgentOf } from "./client-info";
import { setFlash } from "./flash";

export interface CurrentUser {
  id: string;
  name: string;
  email: string;
  role: string;
  org: string | null;
  /** The public handle of this session. */
  sessionHandle: string;
}

declare global {
  namespace Express {
    interface Request {
      user?: CurrentUser;
    }
  }
}

/** Replaces the session with a fresh visitor's one: the old id ends in the store. */
export function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

/**
 * Makes the signed-in user available as req.user and to every view, from the account snapshot
 * the session carries: no extra read per request. Once per update age it refreshes that
 * snapshot from the account and records last activity, user agent and IP (one write).
 * A session from before a password change, or of a deleted account, ends here.
 */
export function currentUser(accounts: AccountSource, lifetime: Lifetime, clock: () => number, locate: Locate): RequestHandler {
  return async (req, _res, next) => {
    const sess = req.session;
    if (!sess?.userId || !sess.user) return next();
    const now = clock();
    if (isActivityStale(sess, lifetime, now)) {
      const refreshed = await refreshSession(req, accounts, lifetime, now, locate);
      if (refreshed === "gone") return signOutHere(req, next);
      if (refreshed === "disabled") return signOutHere(req, next, "This account has been disabled.");
    }
    if (sess.user.cv !== sess.credVersion) return signOutHere(req, next);
    if (sess.user.disabled) return signOutHere(req, next, "This account has been disabled.");
    // A session from before idRole existed learns it once; a changed role means a new id.
    if (sess.idRole === undefined) sess.idRole = sess.user.role;
    else if (sess.idRole !== sess.user.role) await renewId(req, lifetime, now);

    req.user = {
      id: sess.userId,
      name: sess.user.name,
      email: sess.user.email,
      role: sess.user.role,
      org: sess.user.org,
      sessionHandle: handleOf(req.sessionID),
    };
    next();
  };
}

/**
 * Once per update age: the account read again (a change that did not reach this session
 * still counts), last activity, user agent and IP recorded, the expiry slid. The store
 * writes it when the response is sent.
 */
export async function refreshSession(
  req: Request,
  accounts: AccountSource,
  lifetime: Lifetime,
  now: number,
  locate: Locate,
): Promise<"refreshed" | "gone" | "disabled"> {
  const sess = req.session;
  const account = sess.userId ? await accounts.findById(sess.userId) : null;
  if (!account) return "gone";
  if (account.disabled) return "disabled";
  sess.user = snapshotOf(account, now, sess.user?.signIn);
  sess.lastActiveAt = now;
  sess.userAgent = userAgentOf(req);
  const ip = clientIp(req);
  // The place is looked up when the address is new, not at every refresh.
  if (ip !== sess.ip || sess.location === undefined) sess.location = locate(ip) ?? undefined;
  sess.ip = ip;
  if (sess.persistent) {
    const maxAge = expiryOf(sess, lifetime, now) - now;
    sess.cookie.originalMaxAge = maxAge;
    sess.cookie.maxAge = maxAge;
  }
  return "refreshed";
}

/**
 * The same sign-in under a new id, after a change of privilege (ASVS 7.2.4): everything the
 * session holds moves to the new id (its anti-forgery token too, so a form sent as the change
 * lands is not refused); the old id ends in the store. The sign-in time, and with it the
 * absolute lifetime, stay those of the sign-in.
 */
async function renewId(req: Request, lifetime: Lifetime, now: number): Promise<void> {
  const { cookie: _cookie, createdAt, ...data } = req.session;
  await regenerate(req);
  const sess = Object.assign(req.session, data);
  sess.signedInAt = data.signedInAt ?? createdAt;
  sess.idRole = data.user!.role;
  if (sess.persistent) {
    const maxAge = expiryOf(sess, lifetime, now) - now;
    sess.cookie.originalMaxAge = maxAge;
    sess.cookie.maxAge = maxAge;
  }
}

/** Signs this request out: a fresh visitor's session, with a notice saying why. */
async function signOutHere(req: Request, next: (err?: unknown) => void, text = "Your session has ended. Please sign in again."): Promise<void> {
  await regenerate(req);
  setFlash(req, "info", text);
  next();
}
