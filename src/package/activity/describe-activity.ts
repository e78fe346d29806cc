import { formatDistanceToNow } from "date-fns/formatDistanceToNow";
import { withoutInvisibleCharacters } from "../control-characters";
import { describeDevice } from "../sessions/device";
import { formatTime } from "../sessions/format-time";
import type { ActivityEntry } from "./activity-log";

/** A sentence in parts: a name someone typed is a part of its own, which the page isolates in `<bdi>`. */
type Sentence = string | (string | { name: string })[];

const SENTENCES: Record<ActivityEntry["type"], (e: ActivityEntry) => Sentence> = {
  signed_in: () => "Signed in",
  sign_in_failed: () => "Failed sign-in attempt",
  signed_out: () => "Signed out",
  session_ended: (e) =>
    e.device
      ? ["Session on ", { name: withoutInvisibleCharacters(e.device) }, ` signed out${e.by ? ` by ${e.by}` : ""}`]
      : `Session signed out${e.by ? ` by ${e.by}` : ""}`,
  other_sessions_ended: (e) => `${e.by ? `All sessions signed out by ${e.by}` : "All other sessions signed out"}${e.detail ? ` (${e.detail})` : ""}`,
  session_expired: () => "A session expired",
  password_changed: () => "Password changed",
  role_changed: (e) => `Role changed to ${e.detail ?? "?"}${e.by ? ` by ${e.by}` : ""}`,
  account_disabled: (e) => `Account disabled${e.by ? ` by ${e.by}` : ""}`,
  account_enabled: (e) => `Account enabled again${e.by ? ` by ${e.by}` : ""}`,
  name_changed: () => "Name changed",
  password_check_failed: () => "Wrong password entered to confirm an action",
  signed_out_wrong_passwords: (e) => `Signed out after ${e.detail ?? "too many"} wrong passwords`,
  session_stolen: () => "Session ended: a copy of its cookie was used on another device",
};

export interface ActivityRow {
  text: string;
  /** The same sentence in parts, names apart (`{ name }`), for a page to isolate them. */
  parts: (string | { name: string })[];
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
  const sentence = (SENTENCES[entry.type] ?? (() => entry.type))(entry);
  const parts = typeof sentence === "string" ? [sentence] : sentence;
  return {
    text: parts.map((p) => (typeof p === "string" ? p : p.name)).join(""),
    parts,
    where,
    ago: formatDistanceToNow(Math.min(entry.at, now), { addSuffix: true }),
    at: formatTime(entry.at),
    iso: new Date(entry.at).toISOString(),
    session: entry.session,
  };
}
