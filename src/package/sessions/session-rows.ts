import { formatDistanceToNow } from "date-fns/formatDistanceToNow";
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

/** The rows of a sessions list, as the sessions page and the admin console show them. */
export function sessionRows(infos: SessionInfo[], currentHandle: string | null, now: number): SessionRow[] {
  // Sessions not seen since the switch from connect-redis know no activity: after the others.
  const ordered = [...infos.filter((s) => s.moved?.seen !== false), ...infos.filter((s) => s.moved?.seen === false)];
  return ordered.map((s) => {
    const device = s.moved?.seen === false && !s.userAgent ? NOT_SEEN : describeDevice(s.userAgent);
    return {
      handle: s.handle,
      // Names given before invisible characters were refused read as they are shown now.
      name: s.name ? withoutInvisibleCharacters(s.name) || null : null,
      device: device.label,
      deviceType: device.type,
      ip: s.ip || "unknown",
      location: s.location ?? null,
      current: s.handle === currentHandle,
      lastActive:
        s.moved && !s.moved.seen ? `before the switch on ${formatTime(s.moved.at)}` : formatDistanceToNow(Math.min(s.lastActiveAt, now), { addSuffix: true }),
      lastActiveIso: new Date(s.lastActiveAt).toISOString(),
      lastActiveAt: s.lastActiveAt,
      // Of a session moved from the old store only a latest sign-in time is known.
      signedIn: s.moved ? `before ${formatTime(s.createdAt)}` : formatTime(s.createdAt),
      signedInIso: new Date(s.createdAt).toISOString(),
      expires: formatTime(s.expiresAt),
      expiresIso: new Date(s.expiresAt).toISOString(),
      persistent: s.persistent,
    };
  });
}
