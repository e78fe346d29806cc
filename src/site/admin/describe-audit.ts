import { formatDistanceToNow } from "date-fns";
import { type AuditEntry, formatTime } from "../../package/site-kit-entry";

/** An audit log entry as the console lists it: when, in words and in UTC, beside what was done. */
export function describeAudit(entry: AuditEntry, now = Date.now()) {
  return {
    ...entry,
    ago: formatDistanceToNow(Math.min(entry.at, now), { addSuffix: true }),
    when: formatTime(entry.at),
    iso: new Date(entry.at).toISOString(),
  };
}
