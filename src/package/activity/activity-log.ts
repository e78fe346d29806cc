/**
 * Security activity: what happened to an account, for its owner and for administrators, and
 * the administrators' own audit trail. Bounded and expiring, in Redis or the embedded store.
 */
export const ACTIVITY_TYPES = [
  "signed_in",
  "sign_in_failed",
  "signed_out",
  "session_ended",
  "other_sessions_ended",
  "session_expired",
  "password_changed",
  "role_changed",
  "account_disabled",
  "account_enabled",
  "name_changed",
  "password_check_failed",
  "signed_out_wrong_passwords",
  "session_stolen",
] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];

export interface ActivityEntry {
  /** Unique in the log and increasing: the page cursor. */
  id: number;
  /** When, in ms. */
  at: number;
  type: ActivityType;
  ip: string;
  userAgent: string;
  /** The public handle of the session it concerns, when there is one. */
  session: string | null;
  /** Who did it, when not the account's owner ("an administrator"). */
  by?: string;
  /** The device of the session it concerns, for "ended Chrome on Windows". */
  device?: string;
  /** A role, a count, ... */
  detail?: string;
}

export interface AuditEntry {
  id: number;
  at: number;
  adminId: string;
  adminEmail: string;
  action: string;
  targetUserId: string;
  targetEmail: string;
  detail?: string;
  ip: string;
}

export interface Page<T> {
  entries: T[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: number;
}

export interface ActivityLogOptions {
  /** Entries kept per user; older ones drop off. */
  maxPerUser: number;
  /** How long a user's activity is kept after its last entry (ms). */
  retention: number;
  /** Entries kept in the administrators' audit log. */
  maxAudit: number;
}

export interface ActivityLog {
  record(userId: string, entry: Omit<ActivityEntry, "id" | "at">): Promise<void>;
  list(userId: string, options: { before?: number; limit: number }): Promise<Page<ActivityEntry>>;
  forget(userId: string): Promise<void>;
  audit(entry: Omit<AuditEntry, "id" | "at">): Promise<void>;
  listAudit(options: { before?: number; limit: number }): Promise<Page<AuditEntry>>;
}

/** Entry ids are the time in ms, made unique and increasing within one log. */
export function nextId(now: number, last: number | undefined): number {
  return last !== undefined && last >= now ? last + 1 : now;
}

export function pageOf<T extends { id: number }>(newestFirst: T[], limit: number): Page<T> {
  const entries = newestFirst.slice(0, limit);
  return newestFirst.length > limit ? { entries, next: entries[entries.length - 1].id } : { entries };
}
