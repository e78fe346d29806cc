import type { Request } from "express";
import type { ActivityLog } from "../activity/activity-log";
import { clientIp, userAgentOf } from "../middleware/client-info";
import { regenerate } from "../middleware/current-user";
import type { Lifetime } from "../session-store/session-record";
import { handleOf } from "../session-store/session-record";
import { type SessionStore, stateOf } from "../session-store/session-store";
import { describeDevice } from "../sessions/device";
import type { Locate } from "../sessions/location";
import { type SessionAccount, snapshotOf } from "../users/account";

/**
 * Signs an account in on this request: a new session id (the old session ends in the store),
 * the account snapshot, device data, and a cookie that ends with the browser unless
 * remembered. The store creates and indexes the new session when the response is sent.
 */
export async function startSession(
  req: Request,
  account: SessionAccount,
  remember: boolean,
  lifetime: Lifetime,
  now: number,
  locate: Locate,
  series?: string,
): Promise<void> {
  await regenerate(req);
  describeSignIn(req, account, remember, now, locate, true, series);
  if (remember) {
    const maxAge = Math.min(lifetime.idle, lifetime.absolute);
    req.session.cookie.originalMaxAge = maxAge;
    req.session.cookie.maxAge = maxAge;
  }
}

/**
 * The package's state of a session that signs in now: the account (and its snapshot), the
 * device and the address. The store indexes it under the account when it first writes it.
 * `series` is the series of the browser's session when it was signed in to this account
 * already (signing in again, a re-authentication): the session stays the one an alert's
 * "This wasn't me" link names, whatever new ids it takes.
 */
export function describeSignIn(
  req: Request,
  account: SessionAccount,
  remember: boolean,
  now: number,
  locate: Locate,
  passwordEntered = true,
  series?: string,
): void {
  const sess = stateOf(req.session);
  sess.userId = String(account.id);
  sess.series = series ?? handleOf(req.sessionID);
  sess.user = snapshotOf(account, now);
  sess.credVersion = account.credentialVersion ?? 0;
  // Only a password entered here opens the re-authentication window; a site's own sign-in is not seen.
  if (passwordEntered) sess.authAt = now;
  sess.lastActiveAt = now;
  sess.userAgent = userAgentOf(req);
  sess.ip = clientIp(req);
  sess.location = locate(sess.ip) ?? undefined;
  sess.persistent = remember;
  sess.idRole = sess.user.role;
}

/**
 * After a sign-in on this request: every session of the account gets the "new sign-in"
 * notice with its account snapshot (a write sign-in makes anyway, never one more read for an
 * ordinary page), and the activity log records it.
 */
export async function announceSignIn(req: Request, account: SessionAccount, sessions: SessionStore, activity: ActivityLog, now: number): Promise<void> {
  const session = handleOf(req.sessionID);
  const notice = { at: now, session, device: describeDevice(userAgentOf(req)).label, ip: clientIp(req) };
  const snapshot = snapshotOf(account, now, notice);
  stateOf(req.session).user = snapshot;
  await sessions.updateUserSnapshot(String(account.id), snapshot);
  await activity.record(String(account.id), { type: "signed_in", ip: notice.ip, userAgent: userAgentOf(req), session });
}
