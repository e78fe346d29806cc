import type { Request } from "express";
import type { ActivityLog } from "../activity/activity-log";
import { recordActivity } from "../activity/record";
import type { SessionStore } from "../session-store/session-store";
import { describeDevice } from "./device";

/**
 * Ending sessions, as the sessions page, the API and the admin console all do it: the store
 * ends them, the account's activity says so (and who did it, when not its owner).
 */
export async function endSession(sessions: SessionStore, activity: ActivityLog, req: Request, userId: string, handle: string, by?: string): Promise<boolean> {
  const target = (await sessions.listUserSessions(userId)).find((s) => s.handle === handle);
  if (!target || !(await sessions.endUserSession(userId, handle))) return false;
  await recordActivity(activity, userId, req, "session_ended", { by, device: describeDevice(target.userAgent).label, session: handle });
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
  const ended = await sessions.endUserSessions(userId, keep);
  await recordActivity(activity, userId, req, "other_sessions_ended", { by, detail: ended === 1 ? "1 session" : `${ended} sessions` });
  return ended;
}
