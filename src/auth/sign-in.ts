import type { Request } from "express";
import type { ActivityLog } from "../activity/activity-log";
import { clientIp, userAgentOf } from "../middleware/client-info";
import { regenerate } from "../middleware/current-user";
import type { Lifetime } from "../session-store/session-record";
import { handleOf } from "../session-store/session-record";
import type { SessionStore } from "../session-store/session-store";
import { describeDevice } from "../sessions/device";
import { snapshotOf, type User, type UserRepository } from "../users/user-repository";

/**
 * Signs a user in on this request: a new session id (the old session ends in the store), the
 * account snapshot, device data, and a cookie that ends with the browser unless remembered.
 * The store creates and indexes the new session when the response is sent.
 */
export async function startSession(req: Request, user: User, remember: boolean, lifetime: Lifetime, now: number): Promise<void> {
  await regenerate(req);
  const sess = req.session;
  sess.userId = user.id;
  sess.user = snapshotOf(user);
  sess.credVersion = user.cv;
  sess.authAt = now;
  sess.lastActiveAt = now;
  sess.userAgent = userAgentOf(req);
  sess.ip = clientIp(req);
  sess.persistent = remember;
  sess.idRole = user.role;
  if (remember) {
    const maxAge = Math.min(lifetime.idle, lifetime.absolute);
    sess.cookie.originalMaxAge = maxAge;
    sess.cookie.maxAge = maxAge;
  }
}

/**
 * After a sign-in on this request: the account remembers it, every other session of the user
 * gets it with its account snapshot (a write sign-in makes anyway, never one more read for an
 * ordinary page), and the activity log records it.
 */
export async function announceSignIn(req: Request, user: User, users: UserRepository, sessions: SessionStore, activity: ActivityLog): Promise<void> {
  const session = handleOf(req.sessionID);
  const notice = { at: Date.now(), session, device: describeDevice(userAgentOf(req)).label, ip: clientIp(req) };
  const updated = await users.update(user.id, { lastSignIn: notice });
  if (updated) {
    const snapshot = snapshotOf(updated);
    req.session.user = snapshot;
    await sessions.updateUserSnapshot(user.id, snapshot);
  }
  await activity.record(user.id, { type: "signed_in", ip: notice.ip, userAgent: userAgentOf(req), session });
}
