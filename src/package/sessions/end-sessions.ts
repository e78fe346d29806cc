import type { Request } from "express";
import type { ActivityLog } from "../activity/activity-log";
import { recordActivity } from "../activity/record";
import { userAgentOf } from "../middleware/client-info";
import type { Ending, SessionStore } from "../session-store/session-store";
import { describeDevice } from "./device";

/**
 * Ending sessions, as the sessions page, the API and the admin console all do it: the store
 * ends them, the account's activity says so (and who did it, when not its owner).
 */
export async function endSession(sessions: SessionStore, activity: ActivityLog, req: Request, userId: string, handle: string, by?: string): Promise<boolean> {
  const target = (await sessions.listUserSessions(userId)).find((s) => s.handle === handle);
  if (!target || !(await sessions.endUserSession(userId, handle, endingBy(req, by)))) return false;
  await recordActivity(activity, userId, req, "session_ended", {
    by,
    device: target.name ? `${target.name} (${describeDevice(target.userAgent).label})` : describeDevice(target.userAgent).label,
    session: handle,
  });
  return true;
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
