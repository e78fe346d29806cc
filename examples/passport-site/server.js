// Starts the site: users in SQLite (USERS_DB, default users.db), the cookie secret from SESSION_SECRET.
const { createClient } = require("redis");
const { openUsers } = require("./users");
const { createSite } = require("./site");

async function main() {
  const users = openUsers(process.env.USERS_DB ?? "users.db");
  if (!users.findByUsername("ada")) users.create("ada", "Ada Lovelace", "correct horse battery", "pro");
  // Reconnecting at least twice a second brings pages back within a second of Redis (node-redis waits up to 2 s by default).
  const socket = { reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) };
  const redis = process.env.REDIS_URL ? createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true, socket }) : undefined;
  // Not awaited: the site answers while Redis is still on its way (compose starts both at once).
  redis?.connect().catch((err) => console.error(err.message));
  const { app } = await createSite({ users, redis, secret: process.env.SESSION_SECRET ?? "change me: a long random secret" });
  const port = Number(process.env.PORT ?? 3002);
  app.listen(port, "127.0.0.1", () => console.log(`http://127.0.0.1:${port} (sign in as ada, password "correct horse battery")`));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
