import type { Role, Sessions } from "../../package";
import type { User, UserRepository } from "./user-repository";

/** Who made a change, for the account's activity log. */
export interface Actor {
  by: string;
  ip: string;
  userAgent: string;
}

/** Gives the account a role; every session of it has the role on its next request. */
export async function setRole(
  users: UserRepository,
  sessions: Sessions,
  email: string,
  role: Role,
  actor: Actor,
): Promise<{ before: User; after: User } | null> {
  const before = await users.findByEmail(email);
  if (!before) return null;
  const after = await users.update(before.id, { role });
  if (!after) return null;
  await sessions.accountChanged(after.id);
  await sessions.activity.record(after.id, { type: "role_changed", detail: role, by: actor.by, ip: actor.ip, userAgent: actor.userAgent, session: null });
  return { before, after };
}

/** Disables or enables an account. Disabling ends every session of it at once. */
export async function setDisabled(users: UserRepository, sessions: Sessions, email: string, disabled: boolean, actor: Actor): Promise<User | null> {
  const user = await users.findByEmail(email);
  if (!user) return null;
  const after = await users.update(user.id, { disabled });
  if (!after) return null;
  // The snapshot first: a session the revocation misses is refused on its next request.
  await sessions.accountChanged(after.id);
  if (disabled) await sessions.store.endUserSessions(after.id, undefined, { reason: "disabled", at: Date.now() });
  await sessions.activity.record(after.id, {
    type: disabled ? "account_disabled" : "account_enabled",
    by: actor.by,
    ip: actor.ip,
    userAgent: actor.userAgent,
    session: null,
  });
  return after;
}
