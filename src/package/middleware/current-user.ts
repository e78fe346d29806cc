import type { NextFunction, Request, RequestHandler } from "express";
import type { Lifetime } from "../session-store/session-record";
import { expiryOf, handleOf, isActivityStale } from "../session-store/session-record";
import { peekState, type SessionStore, stateOf } from "../session-store/session-store";
import type { Locate } from "../sessions/location";
import { type AccountSource, snapshotOf } from "../users/account";
import { clientIp, userAgentOf } from "./client-info";
import { setFlash } from "./flash";

export interface CurrentUser {
  id: string;
  name: string;
  email?: string | null;
  role: string;
  org: string | null;
  /** The public handle of this session. */
  sessionHandle: string;
}

declare global {
  namespace Express {
    interface Request {
      /** The account signed in on this session, as the package knows it (set by its middleware or track()). */
      sessionUser?: CurrentUser;
    }
  }
}

const CURRENT_ID = Symbol("the session's current id, when the request came with a retired one");

/**
 * This request is served on a retired id (a tab's request within the rotation grace): the
 * session lives on under `currentId`. The page names that session (its handle), and signing
 * out here ends it: the retired id alone is in no store.
 */
export function servedForCurrentId(req: Request, currentId: string): void {
  (req as Request & { [CURRENT_ID]?: string })[CURRENT_ID] = currentId;
  const sess = req.session;
  for (const method of ["destroy", "regenerate"] as const) {
    const original = sess[method] as (this: typeof sess, cb: (err?: unknown) => void) => typeof sess;
    Object.defineProperty(sess, method, {
      configurable: true,
      enumerable: false,
      writable: true,
      value(this: typeof sess, cb: (err?: unknown) => void) {
        req.sessionStore.destroy(currentId, (err) => (err ? cb(err) : original.call(this, cb)));
        return this;
      },
    });
  }
}

/** The id of this request's session: the one it came with, or the current one it is served for. */
function currentIdOf(req: Request): string {
  return (req as Request & { [CURRENT_ID]?: string })[CURRENT_ID] ?? req.sessionID;
}

const OWN_REGENERATE = Symbol("the package's own regenerate");
type Marked = Request & { [OWN_REGENERATE]?: boolean };

/** Replaces the session with a fresh visitor's one: the old id ends in the store. */
export function regenerate(req: Request): Promise<void> {
  (req as Marked)[OWN_REGENERATE] = true;
  return new Promise((resolve, reject) =>
    req.session.regenerate((err) => {
      delete (req as Marked)[OWN_REGENERATE];
      if (err) reject(err);
      else resolve();
    }),
  );
}

/** Whether the package itself is replacing this request's session (a new id, not a sign-out). */
export function isOwnRegenerate(req: Request): boolean {
  return (req as Marked)[OWN_REGENERATE] === true;
}

/** Where the names people give their devices are kept (the session store). */
export type DeviceNames = Pick<SessionStore, "userSessionName" | "nameUserSession">;

/** What checking a signed-in session needs. */
export interface Identify {
  accounts: AccountSource;
  /** A session that moves to a new id (a role change) keeps its device's name. */
  names: DeviceNames;
  lifetime: Lifetime;
  now: () => number;
  locate: Locate;
  /**
   * The package made the cookie (its own sign-in), so it slides a remembered cookie's expiry.
   * A site's own session middleware keeps its cookie as it set it.
   */
  ownsCookie: boolean;
}

/**
 * Sets req.sessionUser from the account snapshot the session carries: no extra read per
 * request. Once per update age it refreshes that snapshot from the account and records last
 * activity, user agent and IP (one write). A session from before a password change, or of a
 * disabled or deleted account, ends here. Answers at once (no promise) when it needs nothing
 * from the store, as on most requests.
 */
export function identify(req: Request, how: Identify): Promise<void> | undefined {
  const sess = peekState(req.session);
  if (!sess?.userId || !sess.user) return undefined;
  const now = how.now();
  if (isActivityStale(sess, how.lifetime, now)) {
    return refreshSession(req, how.accounts, how.lifetime, now, how.locate, how.ownsCookie).then((refreshed) => {
      if (refreshed === "gone") return signOutHere(req);
      if (refreshed === "disabled") return signOutHere(req, "This account has been disabled.");
      return identifyNow(req, how, now);
    });
  }
  return identifyNow(req, how, now);
}

function identifyNow(req: Request, how: Identify, now: number): Promise<void> | undefined {
  const sess = peekState(req.session)!;
  const user = sess.user!;
  if (user.cv !== sess.credVersion) return signOutHere(req);
  if (user.disabled) return signOutHere(req, "This account has been disabled.");
  // A session from before idRole existed learns it once; a changed role means a new id.
  if (sess.idRole === undefined) sess.idRole = user.role;
  else if (sess.idRole !== user.role) return renewId(req, how, now).then(() => setSessionUser(req));
  setSessionUser(req);
  return undefined;
}

function setSessionUser(req: Request): void {
  const sess = peekState(req.session)!;
  const user = sess.user!;
  req.sessionUser = {
    id: sess.userId!,
    name: user.name,
    email: user.email,
    role: user.role,
    org: user.org,
    sessionHandle: handleOf(currentIdOf(req)),
  };
}

/** The series of this request's signed-in session: its sign-in handle, which its new ids keep (SessionState.series). */
export function seriesOf(req: Request): string | undefined {
  return peekState(req.session)?.series ?? req.sessionUser?.sessionHandle;
}

/** The package's own sign-in: req.sessionUser, and req.user the same account (see docs/adopting.md). */
export function currentUser(how: Identify): RequestHandler {
  const done = (req: Request, next: NextFunction) => {
    if (req.sessionUser) (req as { user?: unknown }).user = req.sessionUser;
    next();
  };
  return (req, _res, next) => {
    const work = identify(req, how);
    if (work) work.then(() => done(req, next), next);
    else done(req, next);
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
  ownsCookie = true,
): Promise<"refreshed" | "gone" | "disabled"> {
  const sess = stateOf(req.session);
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
  if (!ownsCookie) sess.persistent = hasExpiry(req);
  else if (sess.persistent) {
    const maxAge = expiryOf(sess, lifetime, now) - now;
    req.session.cookie.originalMaxAge = maxAge;
    req.session.cookie.maxAge = maxAge;
  }
  return "refreshed";
}

/**
 * The same sign-in under a new id, after a change of privilege (ASVS 7.2.4): everything the
 * session holds moves to the new id (its anti-forgery token too, so a form sent as the change
 * lands is not refused); the old id ends in the store. The sign-in time, and with it the
 * absolute lifetime, stay those of the sign-in.
 */
async function renewId(req: Request, how: Identify, now: number): Promise<void> {
  const { lifetime, ownsCookie } = how;
  const { createdAt, ...state } = peekState(req.session) ?? {};
  const name = await deviceNameOf(how.names, req);
  await moveToNewId(req);
  const sess = Object.assign(stateOf(req.session), state);
  sess.signedInAt = state.signedInAt ?? createdAt;
  sess.idRole = state.user!.role;
  if (ownsCookie && sess.persistent) {
    const maxAge = expiryOf(sess, lifetime, now) - now;
    req.session.cookie.originalMaxAge = maxAge;
    req.session.cookie.maxAge = maxAge;
  }
  await nameNewId(how.names, req, name);
}

/** The name its owner gave this session's device, read before the session moves to a new id. */
export async function deviceNameOf(names: DeviceNames, req: Request): Promise<string | null> {
  const userId = peekState(req.session)?.userId;
  return userId ? names.userSessionName(userId, handleOf(req.sessionID)) : null;
}

/**
 * Gives the session's new id the name its device had (from deviceNameOf): the name is the
 * device's, not the id's. The session is stored first, as the store names only sessions it
 * has indexed under their account.
 */
export async function nameNewId(names: DeviceNames, req: Request, name: string | null): Promise<void> {
  const userId = peekState(req.session)?.userId;
  if (!name || !userId) return;
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  await names.nameUserSession(userId, handleOf(req.sessionID), name);
}

/**
 * The same session under a new id: the old id ends in the store; the site's keys and the
 * cookie (a site's "remember me" expiry included) come along. The package's state is the
 * caller's to carry over or not.
 */
export async function moveToNewId(req: Request): Promise<void> {
  const { cookie, ...site } = req.session;
  const { originalMaxAge, expires } = cookie;
  await regenerate(req);
  Object.assign(req.session, site);
  req.session.cookie.expires = expires ? new Date(expires) : undefined;
  req.session.cookie.originalMaxAge = originalMaxAge;
}

/** Whether the session's cookie outlives the browser ("remember me", as the site set it). */
export function hasExpiry(req: Request): boolean {
  return req.session.cookie?.expires != null;
}

/** Signs this request out: a fresh visitor's session, with a notice saying why. */
async function signOutHere(req: Request, text = "Your session has ended. Please sign in again."): Promise<void> {
  await regenerate(req);
  setFlash(req, "info", text);
}
