import type { Request, RequestHandler, Response } from "express";
import type { Session } from "express-session";
import type { ActivityLog } from "../activity/activity-log";
import { recordActivity } from "../activity/record";
import { announceSignIn, describeSignIn } from "../auth/sign-in";
import { handleOf } from "../session-store/session-record";
import { peekState, type SessionStore } from "../session-store/session-store";
import type { SessionAccount } from "../users/account";
import { hasExpiry, type Identify, identify, isOwnRegenerate, moveToNewId, regenerate, seriesOf } from "./current-user";
import { awaitMove, type LegacyMove, moveLegacySession, takeServedMove } from "./legacy-move";

/** The longest user id the package keeps (ids are keys in the store). */
const MAX_USER_ID_LENGTH = 200;

export interface Tracking {
  /** Who the site says is signed in on this request: an id, or nothing. */
  userIdOf: (req: Request) => unknown;
  identify: Identify;
  store: SessionStore;
  activity: ActivityLog;
  /** Takes a one-time claim: true for the first request that asks for this key, false for the others. */
  claim(key: string): Promise<boolean>;
  /** After a session was indexed: the device remembered, the expiry cookie, the metrics; `moved` for a session connect-redis kept (nobody signed in). */
  onSignedIn?: (req: Request, moved: boolean) => void;
  /** A site moving from connect-redis: its sessions move to new ids (legacy-move.ts). */
  legacy?: LegacyMove;
  /** Clears the site's session cookie as the site set it. */
  clearCookie?: (res: Response, req: Request) => void;
  onSignedOut?: (req: Request) => void;
}

/**
 * For a site that signs people in itself (Passport's req.login, or `req.session.userId = id`):
 * after the site's session and authentication middleware, follows what `userIdOf` says.
 *
 * - The first request on which it names an account indexes the session under it: the same
 *   session under a new id, with every key the site keeps (and its cookie's expiry), the
 *   device described and the sign-in announced. Once: concurrent requests of the same session
 *   leave it to the first. A sign-in on this very request (the site's route sets the user) is
 *   indexed before its response goes out, so the response carries the new id: a session id
 *   planted in the browser before the sign-in (a site that does not regenerate) is never signed
 *   in for whoever planted it, not even for one request.
 * - A request on which it names nobody (or another account) while the session is indexed: the
 *   site signed out without ending the session; the index and the activity learn it.
 * - The site's own sign-out, `req.session.destroy()` or `regenerate()` (what `req.logout`
 *   does), ends the session in the index as the store's destroy always does, and is written
 *   to the activity here.
 *
 * It never sets or changes req.user; the package's own view of the account is req.sessionUser.
 */
export function track(t: Tracking): RequestHandler {
  return (req, res, next) => {
    const named = req.session ? userIdFrom(t.userIdOf(req)) : undefined;
    follow(req, res, t, named).then((refused) => {
      if (refused) return;
      // Nobody signed in as the request comes: the site's route may sign someone in.
      if (named === undefined && req.session && peekState(req.session)?.userId === undefined) watchSignIn(req, res, t);
      next();
    }, next);
  };
}

/** Answers true when it answered the request itself (a sign-in it refuses). */
async function follow(req: Request, res: Response, t: Tracking, named: string | undefined): Promise<boolean> {
  if (!req.session) return false; // no session middleware before this, or the store failed it
  if (t.legacy) {
    const moved = await followLegacy(req, t, t.legacy, named);
    if (moved === false) {
      // A copy of an old cookie, from another browser: not served signed in, and not kept.
      t.clearCookie?.(res, req);
      await refuse(req, res);
      return true;
    }
  }
  const indexedAs = peekState(req.session)?.userId;
  if (indexedAs !== undefined && indexedAs !== named) await stopTracking(req, t, indexedAs);
  if (named !== undefined && peekState(req.session)?.userId === undefined) {
    const state = peekState(req.session);
    // Stored already naming an account, yet never indexed: the sign-in was not tracked before
    // its response (it streamed, or tracking failed), so the id may be one the visitor was
    // given by someone else (a planted id). Whoever brings it first does not get it.
    const account = await trackableAccount(t, named);
    if (account && state?.createdAt !== undefined && !state.fromLegacy) {
      await refuse(req, res);
      return true;
    }
    if (account) await startTracking(req, t, named, account);
  }
  await identify(req, t.identify);
  if (req.sessionUser) watchSignOut(req, res, t);
  return false;
}

/**
 * A session connect-redis kept, at its browser's first requests after the switch: moved to its
 * new id by one request (signed in there when the site names an account, as a visitor's
 * otherwise), taken over by the others. False when this request must not be served (another
 * browser's copy of the old cookie).
 */
async function followLegacy(req: Request, t: Tracking, m: LegacyMove, named: string | undefined): Promise<boolean | undefined> {
  const served = takeServedMove(req);
  if (served !== undefined) return served;
  if (peekState(req.session)?.fromLegacy !== true) return undefined;
  if (!(await t.claim(`move:${handleOf(req.sessionID)}`))) return awaitMove(req, m);
  const account = named === undefined ? null : await trackableAccount(t, named);
  await moveLegacySession(req, m, () => {
    if (account && named !== undefined) describeSignIn(req, { ...account, id: named }, hasExpiry(req), t.identify.now(), t.identify.locate, false);
  });
  if (account) t.onSignedIn?.(req, true);
  return true;
}

/** Ends the session and sends the browser back, signed out: the site's own sign-in on this request is not served. */
async function refuse(req: Request, res: Response): Promise<void> {
  await regenerate(req);
  res.redirect(303, req.method === "GET" || req.method === "HEAD" ? req.originalUrl : "/");
}

/**
 * A request whose session is not signed in may sign in in the site's route (without a new id,
 * when the site does not regenerate): before the session is stored, or its cookie sent, it
 * moves to a new id and is indexed. The site's own `req.session.save()` and the response's
 * end both wait for that, so neither stores the sign-in under the id the visitor brought.
 */
function watchSignIn(req: Request, res: Response, t: Tracking): void {
  const sess = req.session;
  // The request's session now (Passport's req.login replaces it with a new one), when it names an account it is not indexed under.
  const signingIn = () => (req.session && peekState(req.session)?.userId === undefined ? userIdFrom(t.userIdOf(req)) : undefined);
  const save = sess.save as (this: Session, cb?: (err?: unknown) => void) => Session;
  Object.defineProperty(sess, "save", {
    configurable: true,
    enumerable: false,
    writable: true,
    value(this: Session, cb?: (err?: unknown) => void) {
      const named = req.session === this ? signingIn() : undefined;
      if (named === undefined) return save.call(this, cb);
      // Its cookie went out already (a response that streamed): the browser keeps the id it
      // brought, so the sign-in is stored under no id at all.
      if (res.headersSent) {
        regenerate(req).then(
          () => cb?.(),
          (err) => cb?.(err),
        );
        return this;
      }
      signInHere(req, t, named).then(
        () => req.session.save(cb),
        (err) => cb?.(err),
      );
      return this;
    },
  });
  const end = res.end as (this: Response, ...args: unknown[]) => Response;
  res.end = function endAfterSignIn(this: Response, ...args: unknown[]) {
    res.end = end as Response["end"];
    const named = res.headersSent ? undefined : signingIn();
    if (named === undefined) return end.apply(this, args);
    signInHere(req, t, named)
      .catch(() => {})
      .then(() => end.apply(this, args));
    return this;
  } as Response["end"];
}

/** The sign-in of this request, tracked; or, when that cannot be done now, at least under a new id. */
async function signInHere(req: Request, t: Tracking, userId: string): Promise<void> {
  const sess = req.session;
  try {
    const account = await trackableAccount(t, userId);
    if (account) await startTracking(req, t, userId, account);
  } finally {
    if (req.session === sess) await moveToNewId(req);
  }
}

/** The account, when the package follows it (one it knows, not disabled); the site refuses the others itself. */
async function trackableAccount(t: Tracking, userId: string): Promise<SessionAccount | null> {
  const account = await t.identify.accounts.findById(userId);
  return account && !account.disabled ? account : null;
}

/** An id as the package keeps it: a non-empty string or a finite number, as a string. */
function userIdFrom(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && value !== "" && value.length <= MAX_USER_ID_LENGTH) return value;
  return undefined;
}

async function startTracking(req: Request, t: Tracking, userId: string, account: SessionAccount): Promise<void> {
  if (!(await t.claim(`track:${handleOf(req.sessionID)}`))) return;
  // A new id as the session becomes a signed-in one (ASVS 7.2.4), indexed as it is created.
  await moveToNewId(req);
  const now = t.identify.now();
  const previous = (req as WithPreviousSeries)[PREVIOUS_SERIES];
  const series = previous?.userId === userId ? previous.series : undefined;
  describeSignIn(req, { ...account, id: userId }, hasExpiry(req), now, t.identify.locate, false, series);
  await announceSignIn(req, { ...account, id: userId }, t.store, t.activity, now);
  // Stored and indexed now, not when the response ends: this very request may be the
  // sessions page, which lists it as "this device".
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  t.onSignedIn?.(req, false);
}

async function stopTracking(req: Request, t: Tracking, userId: string): Promise<void> {
  req.sessionUser = undefined;
  await recordActivity(t.activity, userId, req, "signed_out", { session: handleOf(req.sessionID) });
  t.onSignedOut?.(req);
  // The site's keys stay (a cart outlives a sign-out); the session leaves the index with its old id.
  await moveToNewId(req);
}

/** The session this request came signed in with, when the site ended it (to sign in again). */
const PREVIOUS_SERIES = Symbol("previous series");
type WithPreviousSeries = Request & { [PREVIOUS_SERIES]?: { userId: string; series: string | undefined } };

/** The site's sign-out on this request (destroy, or regenerate as req.logout does) goes to the activity first. */
function watchSignOut(req: Request, res: Response, t: Tracking): void {
  const sess = req.session;
  const user = req.sessionUser!;
  let recorded = false;
  for (const method of ["destroy", "regenerate"] as const) {
    const original = sess[method] as (this: Session, cb: (err?: unknown) => void) => Session;
    Object.defineProperty(sess, method, {
      configurable: true,
      enumerable: false,
      writable: true,
      value(this: Session, cb?: (err?: unknown) => void) {
        if (recorded || isOwnRegenerate(req)) return original.call(this, cb as (err?: unknown) => void);
        recorded = true;
        // A sign-in on this same request (Passport's req.login regenerates first) is this
        // browser signing in again: its session keeps the series an alert's link names.
        (req as WithPreviousSeries)[PREVIOUS_SERIES] = { userId: user.id, series: seriesOf(req) };
        t.onSignedOut?.(req);
        // The sign-out goes ahead whatever the activity log answers: it is the person's to make.
        // After a regenerate the site may sign in again on this request: followed as any sign-in.
        // A destroy() may come without a callback (express-session's allows it).
        // Called back once, whatever a store's callback does when the site's own callback throws.
        let calledBack = false;
        const then = (err?: unknown) => {
          if (calledBack) return;
          calledBack = true;
          if (!err && method === "regenerate" && req.session) watchSignIn(req, res, t);
          if (typeof cb === "function") cb(err);
        };
        recordActivity(t.activity, user.id, req, "signed_out", { session: user.sessionHandle })
          .catch(() => {})
          .then(() => original.call(this, then));
        return this;
      },
    });
  }
}
