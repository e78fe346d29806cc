import type { Request } from "express";
import { regenerate } from "../middleware/current-user";
import { clientIp, userAgentOf } from "../middleware/client-info";
import type { Lifetime } from "../session-store/session-record";
import { type User, snapshotOf } from "../users/user-repository";

/**
 * Signs a user in on this request: a new session id (the old session ends in the store), the
 * account snapshot, device data, and a cookie that ends with the browser unless remembered.
 * The store creates and indexes the new session when the response is sent.
 */
export async function startSession(req: Request, user: User, remember: boolean, lifetime: Lifetime): Promise<void> {
  await regenerate(req);
  const now = Date.now();
  const sess = req.session;
  sess.userId = user.id;
  sess.user = snapshotOf(user);
  sess.credVersion = user.cv;
  sess.authAt = now;
  sess.lastActiveAt = now;
  sess.userAgent = userAgentOf(req);
  sess.ip = clientIp(req);
  sess.persistent = remember;
  if (remember) {
    const maxAge = Math.min(lifetime.idle, lifetime.absolute);
    sess.cookie.originalMaxAge = maxAge;
    sess.cookie.maxAge = maxAge;
  }
}
