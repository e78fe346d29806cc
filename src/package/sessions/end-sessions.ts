import type { Request } from "express";
import type { ActivityLog } from "../activity/activity-log";
import { recordActivity } from "../activity/record";
import { userAgentOf } from "../middleware/client-info";
import type { Ending, SessionInfo, SessionStore } from "../session-store/session-store";
import { describeDevice } from "./device";

/**
 * Ending sessions, as the sessions page, the API and the admin console all do it: the store
 * ends them, the account's activity says so (and who did it, when not its owner).
 */
export async function endSession(
  sessions: SessionStore,
  activity: ActivityLog,
  req: Request,
  userId: string,
  ref: string,
  by?: string,
): Promise<SessionInfo | null> {
  const target = await endNamedSession(sessions, userId, ref, endingBy(req, by));
  if (!target) return null;
  await recordActivity(activity, userId, req, "session_ended", {
    by,
    device: target.name ? `${target.name} (${describeDevice(target.userAgent).label})` : describeDevice(target.userAgent).label,
    session: target.handle,
  });
  return target;
}

/**
 * Ends one of the user's live sessions, named by its handle or its series. A session that
 * moves to a new id (rotation) between the listing and the end is looked up again by its
 * series and ended under the new id.
 */
export async function endNamedSession(sessions: SessionStore, userId: string, ref: string, ending: Ending): Promise<SessionInfo | null> {
  let name = ref;
  for (let attempt = 0; attempt < 3; attempt++) {
    const target = await findUserSession(sessions, userId, name);
    if (!target) return null;
    if (await sessions.endUserSession(userId, target.handle, ending)) return target;
    name = target.series;
  }
  return null;
}

/**
 * One of the user's live sessions, named by its handle or by its series (the handle it signed
 * in with: what a mail's link and the new-sign-in notice name, since the id may have rotated since).
 */
export async function findUserSession(sessions: SessionStore, userId: string, ref: string): Promise<SessionInfo | null> {
  const live = await sessions.listUserSessions(userId);
  return live.find((s) => s.handle === ref) ?? live.find((s) => s.series === ref) ?? null;
}

export async function endOtherSessions(
  sessions: SessionStore,
  activity: ActivityLog,
  req: Request,
  userId: string,
  keep: string | undefined,
  by?: string,
): Promise<number> {
  const ended = await sessions.endUserSessions(userId, keep, endingBy(req, by));
  await recordActivity(activity, userId, req, "other_sessions_ended", { by, detail: ended === 1 ? "1 session" : `${ended} sessions` });
  return ended;
}

/** What the ended sessions will say: signed out by an administrator, or from this device by its owner. */
function endingBy(req: Request, by: string | undefined): Ending {
  if (by) return { reason: "admin", at: Date.now() };
  return { reason: "other-device", at: Date.now(), device: describeDevice(userAgentOf(req)).label };
}
