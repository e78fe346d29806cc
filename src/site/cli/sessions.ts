import { formatDistanceToNow } from "date-fns";
import { describeDevice, formatTime } from "../../package/site-kit-entry";
import { OPERATOR, runCli, table, UsageError } from "./cli";

/**
 * npm run sessions -- list EMAIL         every session of the account, most recently active first
 * npm run sessions -- revoke-all EMAIL   ends every session of the account
 */
runCli("npm run sessions -- list EMAIL | revoke-all EMAIL", async ({ users, kit: { store: sessions, activity } }, [command, email]) => {
  if (command !== "list" && command !== "revoke-all") throw new UsageError(`Unknown command "${command ?? ""}".`);
  if (!email) throw new UsageError("Give the email of the account.");
  const user = await users.findByEmail(email);
  if (!user) {
    process.stderr.write(`No account with the email ${email}.\n`);
    return 1;
  }
  if (command === "revoke-all") {
    const ended = await sessions.endUserSessions(user.id);
    await activity.record(user.id, { type: "other_sessions_ended", by: OPERATOR.by, detail: `${ended} sessions`, ip: "", userAgent: "", session: null });
    process.stdout.write(`Ended ${ended} session${ended === 1 ? "" : "s"} of ${user.email}.\n`);
    return 0;
  }
  const rows = (await sessions.listUserSessions(user.id)).map((s) => {
    const device = describeDevice(s.userAgent);
    return [
      s.handle,
      device.label,
      device.type,
      s.ip,
      formatDistanceToNow(s.lastActiveAt, { addSuffix: true }),
      formatTime(s.createdAt),
      formatTime(s.expiresAt),
    ];
  });
  process.stdout.write(`${user.email} (${user.name}), ${rows.length} session${rows.length === 1 ? "" : "s"}\n\n`);
  if (rows.length > 0) process.stdout.write(`${table(["SESSION", "DEVICE", "TYPE", "IP", "LAST ACTIVE", "SIGNED IN", "EXPIRES"], rows)}\n`);
  return 0;
});
