import type { Request } from "express";
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

/** Asks for the password only outside the window; null when the action may go ahead. */
export async function reauthenticate(
  req: Request,
  password: unknown,
  windowSeconds: number,
  users: UserRepository,
  passwords: PasswordHasher,
): Promise<string | null> {
  if (!needsPassword(req, windowSeconds)) return null;
  return checkPassword(req, password, users, passwords);
}
