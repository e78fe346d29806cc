// Roles, and what a session knows of its account: used by the accounts (users/) and the
// sessions (session-store/) alike. A leaf: it imports nothing, so neither imports the other.

export const ROLES = ["user", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** One email as every part names it: counters, device cookies, a site's lookups. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * What password counters and device cookies name an account by: its email, or, for an account
 * without one, its id (after a NUL, which no email a person types begins with).
 */
export function accountLabel(id: string, email: string | null | undefined): string {
  return email ? email : `\u0000id:${id}`;
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/**
 * An account as the sessions need it, from whoever owns the accounts (the site's database, or
 * this server's own repository). Sessions never store more than this, and never the password.
 */
export interface SessionAccount {
  id: string;
  name: string;
  /** Where sign-in alerts go; an account without one (a username site) gets none. */
  email?: string | null;
  /** What requireRole() checks; "user" when not given. */
  role?: string;
  /** Bump it when the password changes: sessions signed in under another value are refused. */
  credentialVersion?: number;
  /** A disabled account cannot sign in, and its sessions are refused at their next refresh. */
  disabled?: boolean;
  /** An organization or team name, shown nowhere by the sessions themselves; kept for the site. */
  org?: string | null;
}

/** The one thing a site implements to use the sessions: its accounts, looked up, and their passwords, checked. */
export interface AccountSource {
  /** The account, or null when there is none (its sessions then end). */
  findById(id: string): Promise<SessionAccount | null>;
  /** Whether this is the account's password (for re-authentication before ending sessions). */
  verifyPassword(id: string, password: string): Promise<boolean>;
}

let lastVersion = 0;

/**
 * What a session holds of its account. `readAt` orders snapshots: the store only ever
 * replaces one with a newer one, so a slow request cannot put back an older name or role.
 */
export function snapshotOf(account: SessionAccount, readAt: number, signIn?: SignInNotice): UserSnapshot {
  // Microseconds, and never the same twice in this process: a change pushed in the same
  // millisecond as a sign-in still replaces that session's snapshot.
  lastVersion = Math.max(readAt * 1000, lastVersion + 1);
  const snapshot: UserSnapshot = {
    name: account.name,
    email: account.email,
    role: account.role ?? "user",
    org: account.org ?? null,
    ver: lastVersion,
    cv: account.credentialVersion ?? 0,
  };
  if (account.disabled) snapshot.disabled = true;
  if (signIn) snapshot.signIn = signIn;
  return snapshot;
}

/** What a session knows of its account, refreshed when the account changes. */
export interface UserSnapshot {
  name: string;
  email?: string | null;
  role: string;
  org: string | null;
  /** When the account was read (µs, increasing): a snapshot only ever replaces an older one. */
  ver: number;
  /** The account's credential version: bumped at every password change. */
  cv: number;
  /** Disabled by an administrator: every session of it is refused. */
  disabled?: boolean;
  /** The account's latest sign-in, for the "new sign-in" notice on its other sessions. */
  signIn?: SignInNotice;
}

export interface SignInNotice {
  at: number;
  /** The new session's handle: that session does not show the notice. */
  session: string;
  device: string;
  ip: string;
}
