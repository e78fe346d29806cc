// Roles, and what a session knows of its account: used by the accounts (users/) and the
// sessions (session-store/) alike. A leaf: it imports nothing, so neither imports the other.

export const ROLES = ["user", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** What a session knows of its account, refreshed when the account changes. */
export interface UserSnapshot {
  name: string;
  email: string;
  role: Role;
  org: string | null;
  /** The account's version: a snapshot only ever replaces an older one. */
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
