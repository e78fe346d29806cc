// Starts the site: PostgreSQL from DATABASE_URL, Redis from REDIS_URL (or sessions in this
// process when it is not set), the cookie secret from SESSION_SECRET.
const pg = require("pg");
const { createClient } = require("redis");
const { openAccounts } = require("./accounts");
const { createSite } = require("./site");

async function main() {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  const accounts = await openAccounts(pool);
  const redis = process.env.REDIS_URL ? await createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true }).connect() : undefined;
  const { app } = await createSite({ accounts, redis });
  const port = Number(process.env.PORT ?? 3001);
  app.listen(port, "127.0.0.1", () => console.log(`http://127.0.0.1:${port}`));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
