import type { Request } from "express";
import { clientIp, userAgentOf } from "../middleware/client-info";
import type { ActivityEntry, ActivityLog, ActivityType } from "./activity-log";

type Extra = Partial<Pick<ActivityEntry, "session" | "by" | "device" | "detail">>;

/** Records what this request did to an account, from this request's device and address. */
export function recordActivity(log: ActivityLog, userId: string, req: Request, type: ActivityType, extra: Extra = {}): Promise<void> {
  return log.record(userId, {
    type,
    ip: clientIp(req),
    userAgent: userAgentOf(req),
    session: req.sessionUser?.sessionHandle ?? null,
    ...extra,
  });
}
