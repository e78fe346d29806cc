import { formatDistanceToNow } from "date-fns";
import { describeDevice } from "../sessions/device";
import { formatTime } from "../sessions/format-time";
import type { ActivityEntry, AuditEntry } from "./activity-log";

const SENTENCES: Record<ActivityEntry["type"], (e: ActivityEntry) => string> = {
  signed_in: () => "Signed in",
  sign_in_failed: () => "Failed sign-in attempt",
  signed_out: () => "Signed out",
  session_ended: (e) => `Session ${e.device ? `on ${e.device} ` : ""}signed out${e.by ? ` by ${e.by}` : ""}`,
  other_sessions_ended: (e) => `${e.by ? `All sessions signed out by ${e.by}` : "All other sessions signed out"}${e.detail ? ` (${e.detail})` : ""}`,
  session_expired: () => "A session expired",
  password_changed: () => "Password changed",
  role_changed: (e) => `Role changed to ${e.detail ?? "?"}${e.by ? ` by ${e.by}` : ""}`,
  account_disabled: (e) => `Account disabled${e.by ? ` by ${e.by}` : ""}`,
  account_enabled: (e) => `Account enabled again${e.by ? ` by ${e.by}` : ""}`,
  name_changed: () => "Name changed",
  password_check_failed: () => "Wrong password entered to confirm an action",
  signed_out_wrong_passwords: (e) => `Signed out after ${e.detail ?? "too many"} wrong passwords`,
};

export interface ActivityRow {
  text: string;
  where: string;
  ago: string;
  at: string;
  iso: string;
  session: string | null;
}

/** "Signed in from Firefox on Linux, 203.0.113.4, 3 hours ago" */
export function describeActivity(entry: ActivityEntry, locate?: (ip: string) => string | null, now = Date.now()): ActivityRow {
  const device = entry.userAgent ? describeDevice(entry.userAgent).label : "";
  const place = entry.ip && locate ? locate(entry.ip) : null;
  const where = [device && `from ${device}`, entry.ip, place].filter(Boolean).join(", ");
  return {
    text: (SENTENCES[entry.type] ?? (() => entry.type))(entry),
    where,
    ago: formatDistanceToNow(Math.min(entry.at, now), { addSuffix: true }),
    at: formatTime(entry.at),
    iso: new Date(entry.at).toISOString(),
    session: entry.session,
  };
}

export function describeAudit(entry: AuditEntry, now = Date.now()) {
  return {
    ...entry,
    ago: formatDistanceToNow(Math.min(entry.at, now), { addSuffix: true }),
    when: formatTime(entry.at),
    iso: new Date(entry.at).toISOString(),
  };
}
