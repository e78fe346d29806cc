import { isRole, ROLES } from "../../package";
import { setRole } from "../users/account-admin";
import { OPERATOR, runCli, UsageError } from "./cli";

/** npm run user:role -- EMAIL ROLE: every session of the user has the role on its next request. */
runCli(`npm run user:role -- EMAIL ROLE   (ROLE is one of: ${ROLES.join(", ")})`, async ({ users, kit }, [email, role]) => {
  if (!email || !role) throw new UsageError("Give an email and a role.");
  if (!isRole(role)) throw new UsageError(`Unknown role "${role}". Use one of: ${ROLES.join(", ")}.`);
  const changed = await setRole(users, kit, email, role, OPERATOR);
  if (!changed) {
    process.stderr.write(`No account with the email ${email}.\n`);
    return 1;
  }
  process.stdout.write(`${changed.after.email} is now ${changed.after.role} (was ${changed.before.role}).\n`);
  return 0;
});
