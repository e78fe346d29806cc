import { connectRedis, cookieShapeOf, lifetimeOf } from "../backend";
import { loadConfig } from "../config";
import { RedisSessionStore } from "../session-store/redis-session-store";
import { RedisUserRepository } from "../users/redis-user-repository";
import { setRole } from "../users/set-role";
import { isRole, ROLES } from "../users/user-repository";

/**
 * npm run user:role -- EMAIL ROLE
 * Grants a role; every session of the user has it on its next request.
 */
async function main(argv: string[]): Promise<number> {
  const [email, role] = argv;
  if (!email || !role) {
    process.stderr.write(`usage: npm run user:role -- EMAIL ROLE   (ROLE is one of: ${ROLES.join(", ")})\n`);
    return 2;
  }
  if (!isRole(role)) {
    process.stderr.write(`Unknown role "${role}". Use one of: ${ROLES.join(", ")}.\n`);
    return 2;
  }
  const config = loadConfig();
  if (!config.redisUrl) {
    process.stderr.write(
      "REDIS_URL is not set. Accounts on the embedded store live inside the running server only; " +
        "run the server with REDIS_URL to manage them from the command line.\n",
    );
    return 2;
  }
  const client = await connectRedis(config.redisUrl);
  try {
    const sessions = new RedisSessionStore({
      client,
      lifetime: lifetimeOf(config),
      cookie: cookieShapeOf(config),
      maxSessionsPerUser: config.maxSessionsPerUser,
    });
    const changed = await setRole(new RedisUserRepository(client), sessions, email, role);
    if (!changed) {
      process.stderr.write(`No account with the email ${email}.\n`);
      return 1;
    }
    process.stdout.write(`${changed.after.email} is now ${changed.after.role} (was ${changed.before.role}).\n`);
    return 0;
  } finally {
    await client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);
