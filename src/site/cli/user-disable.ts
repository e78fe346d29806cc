import { setDisabled } from "../users/account-admin";
import { OPERATOR, runCli, UsageError } from "./cli";

/** npm run user:disable -- EMAIL [--enable]: disabling ends every session of the account at once. */
runCli("npm run user:disable -- EMAIL [--enable]", async ({ users, kit }, args) => {
  const enable = args.includes("--enable");
  const [email] = args.filter((a) => a !== "--enable");
  if (!email) throw new UsageError("Give the email of the account.");
  const user = await setDisabled(users, kit, email, !enable, OPERATOR);
  if (!user) {
    process.stderr.write(`No account with the email ${email}.\n`);
    return 1;
  }
  process.stdout.write(enable ? `${user.email} can sign in again.\n` : `${user.email} is disabled; every session of it has ended.\n`);
  return 0;
});
