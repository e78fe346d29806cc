import { randomBytes } from "node:crypto";
import type { AccountSource, Role, SessionAccount } from "../../package";
import type { PasswordHasher } from "./password";

export interface User {
  id: string;
  /** Stored lower-cased: emails are compared case-insensitively. */
  email: string;
  name: string;
  passwordHash: string;
  role: Role;
  org: string | null;
  /** Bumped at every change, so sessions can tell a newer account snapshot from an older one. */
  ver: number;
  /** Bumped at every password change: sessions signed in before it are no longer valid. */
  cv: number;
  createdAt: number;
  /** Disabled by an administrator: cannot sign in. */
  disabled: boolean;
  /** The address was confirmed (the sign-up mail's link, or a reset link): until then the account cannot sign in. */
  confirmed: boolean;
}

export interface NewUser {
  email: string;
  name: string;
  passwordHash: string;
  role?: Role;
  org?: string | null;
  /** Default: true (an account an administrator or a tool makes); a sign-up's is false until its link is opened. */
  confirmed?: boolean;
}

export interface UserChanges {
  name?: string;
  passwordHash?: string;
  role?: Role;
  org?: string | null;
  disabled?: boolean;
  confirmed?: boolean;
  /** A password change: bump the credential version as well. */
  newCredentials?: boolean;
}

/**
 * What the account must still be for an update to apply, checked and changed in one step: a
 * change decided on an earlier read (a sign-up taking over an unconfirmed account, a
 * confirmation) is refused when another request changed the account in between.
 */
export interface UserExpectation {
  /** The credential version the change was decided on. */
  cv?: number;
  confirmed?: boolean;
}

/** Where accounts live: the same backend as the sessions (Redis, or the embedded store). */
export interface UserRepository {
  /** null when the email is taken. */
  create(input: NewUser): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  findByEmail(email: string): Promise<User | null>;
  /** The changed user, or null when there is no such user or it no longer meets `expected` (then nothing changed). */
  update(id: string, changes: UserChanges, expected?: UserExpectation): Promise<User | null>;
  delete(id: string): Promise<void>;
  /** The ids of the enabled administrators (for the last-administrator guard). */
  activeAdmins(): Promise<string[]>;
  /** Accounts whose email starts with the prefix, in email order, from an index (never a scan). */
  findByEmailPrefix(prefix: string, options: { offset: number; limit: number }): Promise<User[]>;
}

/** 128 random bits, base64url: shorter than a UUID in every key and session that holds it. */
export function newUserId(): string {
  return randomBytes(16).toString("base64url");
}

/** A new account as both repositories store it: a fresh id, versions at 1, enabled. */
export function newUser(input: NewUser, email: string): User {
  return {
    id: newUserId(),
    email,
    name: input.name,
    passwordHash: input.passwordHash,
    role: input.role ?? "user",
    org: input.org ?? null,
    ver: 1,
    cv: 1,
    createdAt: Date.now(),
    disabled: false,
    confirmed: input.confirmed ?? true,
  };
}

/** Whether the account is an administrator who can act as one. */
export function isActiveAdmin(user: User): boolean {
  return user.role === "admin" && !user.disabled;
}

/** Whether the account is the one enabled administrator left (the last-administrator guard). */
export async function isLastActiveAdmin(users: UserRepository, userId: string): Promise<boolean> {
  const admins = await users.activeAdmins();
  return admins.length > 0 && admins.every((id) => id === userId);
}

/** This server's accounts as the sessions see them: the same interface any site implements. */
export function accountsOf(users: UserRepository, passwords: PasswordHasher): AccountSource {
  return {
    findById: async (id) => {
      const user = await users.findById(id);
      return user && accountOf(user);
    },
    verifyPassword: async (id, password) => {
      const user = await users.findById(id);
      return user !== null && (await passwords.verify(password, user.passwordHash));
    },
  };
}

/** The account as the sessions see it. */
export function accountOf(user: User): SessionAccount {
  return { id: user.id, name: user.name, email: user.email, role: user.role, credentialVersion: user.cv, disabled: user.disabled, org: user.org };
}

/** Whether the account is still what an update expects of it. */
export function meetsExpectation(user: User, expected: UserExpectation = {}): boolean {
  return (expected.cv === undefined || user.cv === expected.cv) && (expected.confirmed === undefined || user.confirmed === expected.confirmed);
}

/** Applies changes to a user the way both repositories must. */
export function applyChanges(user: User, changes: UserChanges): User {
  const { newCredentials, ...fields } = changes;
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return { ...user, ...defined, ver: user.ver + 1, cv: newCredentials ? user.cv + 1 : user.cv };
}
