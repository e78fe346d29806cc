import { formatDistance } from "date-fns/formatDistance";
import { withoutInvisibleCharacters } from "../control-characters";
import type { SessionInfo } from "../session-store/session-store";
import { describeDevice } from "./device";
import { formatTime } from "./format-time";

export interface SessionRow {
  handle: string;
  /** The name its owner gave it ("Work laptop"), or null. */
  name: string | null;
  /** What the browser says it is ("Chrome on Windows"). */
  device: string;
  deviceType: string;
  ip: string;
  /** Where the address is, roughly, or null. */
  location: string | null;
  current: boolean;
  /** What tells this row from the others to a screen reader's list of fields: "Work laptop, 203.0.113.4". */
  label: string;
  lastActive: string;
  lastActiveIso: string;
  lastActiveAt: number;
  signedIn: string;
  signedInIso: string;
  expires: string;
  expiresIso: string;
  persistent: boolean;
}

const NOT_SEEN = { label: "A browser not seen since the switch", type: "device unknown" };

/**
 * The rows of a sessions list, as the sessions page and the admin console show them. This
 * device's row comes first: it is active now, whenever its last write was, so the rows keep
 * their order when a form on the page is sent and the page comes back. Sessions not seen since
 * the switch from connect-redis know no activity: they come last.
 */
export function sessionRows(infos: SessionInfo[], currentHandle: string | null, now: number): SessionRow[] {
  const notSeen = (s: SessionInfo) => s.moved?.seen === false;
  const ordered = [
    ...infos.filter((s) => s.handle === currentHandle),
    ...infos.filter((s) => s.handle !== currentHandle && !notSeen(s)),
    ...infos.filter((s) => s.handle !== currentHandle && notSeen(s)),
  ];
  const rows = ordered.map((s) => {
    const device = notSeen(s) && !s.userAgent ? NOT_SEEN : describeDevice(s.userAgent);
    // Names given before invisible characters were refused read as they are shown now.
    const name = s.name ? withoutInvisibleCharacters(s.name) || null : null;
    const ip = s.ip || "unknown";
    const lastActiveAt = s.handle === currentHandle ? Math.max(s.lastActiveAt, now) : s.lastActiveAt;
    return {
      handle: s.handle,
      name,
      device: device.label,
      deviceType: device.type,
      ip,
      location: s.location ?? null,
      current: s.handle === currentHandle,
      label: `${name ?? device.label}, ${ip}`,
      // Against the same clock as the rest of the row: "5 minutes ago", never "in 5 minutes".
      lastActive:
        s.moved && !s.moved.seen ? `before the switch on ${formatTime(s.moved.at)}` : formatDistance(Math.min(lastActiveAt, now), now, { addSuffix: true }),
      lastActiveIso: new Date(lastActiveAt).toISOString(),
      lastActiveAt,
      // Of a session moved from the old store only a latest sign-in time is known.
      signedIn: s.moved ? `before ${formatTime(s.createdAt)}` : formatTime(s.createdAt),
      signedInIso: new Date(s.createdAt).toISOString(),
      expires: formatTime(s.expiresAt),
      expiresIso: new Date(s.expiresAt).toISOString(),
      persistent: s.persistent,
    };
  });
  // Two rows alike (one browser twice, at one address) are told apart by when they signed in.
  const alike = (label: (r: SessionRow) => string) => rows.filter((row) => rows.some((r) => r !== row && label(r) === label(row)));
  for (const row of alike((r) => r.label)) row.label += `, signed in ${row.signedIn}`;
  // Signed in within the same minute too: by their place in the list.
  for (const row of alike((r) => r.label)) row.label += `, session ${rows.indexOf(row) + 1}`;
  return rows;
}
