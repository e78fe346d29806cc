import type { SessionStore } from "../session-store/session-store";
import { type Role, type User, type UserRepository, snapshotOf } from "./user-repository";

/** Gives the account a role; every session of it has the role on its next request. */
export async function setRole(users: UserRepository, sessions: SessionStore, email: string, role: Role): Promise<{ before: User; after: User } | null> {
  const before = await users.findByEmail(email);
  if (!before) return null;
  const after = await users.update(before.id, { role });
  if (!after) return null;
  await sessions.updateUserSnapshot(after.id, snapshotOf(after));
  return { before, after };
}
