import type { Request } from "express";
import { startSession } from "../auth/sign-in";
import type { Lifetime } from "../session-store/session-record";
import type { PasswordHasher } from "../users/password";
import type { UserRepository } from "../users/user-repository";

/** Whether the password was entered longer ago than the re-authentication window. */
export function needsPassword(req: Request, windowSeconds: number): boolean {
  return Date.now() - (req.session.authAt ?? 0) > windowSeconds * 1000;
}

/**
 * Checks the password for a sensitive action: null when it is right (and the window restarts),
 * otherwise the message to show next to the password field.
 */
export async function checkPassword(
  req: Request,
  password: unknown,
  users: UserRepository,
  passwords: PasswordHasher,
): Promise<string | null> {
  if (typeof password !== "string" || password.length === 0) return "Enter your password to continue.";
  if (password.length > 256) return "That password is not correct.";
  const account = req.user ? await users.findById(req.user.id) : null;
  if (!account || !(await passwords.verify(password, account.passwordHash))) return "That password is not correct.";
  req.session.authAt = Date.now();
  return null;
}

export type Reauthentication = { error: string } | { error: null; entered: boolean };

/**
 * Asks for the password only outside the window. `entered` tells the caller to give the
 * session a new id once the action is done: a re-authentication is an authentication (ASVS 7.2.4).
 */
export async function reauthenticate(
  req: Request,
  password: unknown,
  windowSeconds: number,
  users: UserRepository,
  passwords: PasswordHasher,
): Promise<Reauthentication> {
  if (!needsPassword(req, windowSeconds)) return { error: null, entered: false };
  const error = await checkPassword(req, password, users, passwords);
  return error ? { error } : { error: null, entered: true };
}

/** A new session id after the password was entered again; the old id ends. */
export async function renewSession(req: Request, users: UserRepository, lifetime: Lifetime): Promise<void> {
  const account = req.user ? await users.findById(req.user.id) : null;
  if (account) await startSession(req, account, req.session.persistent === true, lifetime);
}
