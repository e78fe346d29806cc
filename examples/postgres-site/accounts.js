// The site's own accounts, in PostgreSQL. Nothing here knows about sessions.
const { randomBytes, randomUUID, scrypt, timingSafeEqual } = require("node:crypto");
const { promisify } = require("node:util");

const scryptAsync = promisify(scrypt);

async function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32);
  return `${salt.toString("base64")}:${hash.toString("base64")}`;
}

async function passwordMatches(password, stored) {
  const [salt, hash] = stored.split(":").map((part) => Buffer.from(part, "base64"));
  const candidate = await scryptAsync(password, salt, hash.length);
  return timingSafeEqual(candidate, hash);
}

/** The users table in its own schema (created if missing), and the queries the site needs. */
async function openAccounts(pool, schema = "public") {
  const table = `"${schema.replace(/"/g, '""')}".users`;
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replace(/"/g, '""')}"`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
    id text PRIMARY KEY,
    email text UNIQUE NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    password_version integer NOT NULL DEFAULT 1
  )`);
  const row = (r) => r && { id: r.id, email: r.email, name: r.name, passwordHash: r.password_hash, passwordVersion: r.password_version };
  return {
    async create(email, name, password) {
      const result = await pool.query(
        `INSERT INTO ${table} (id, email, name, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING *`,
        [randomUUID(), email.trim().toLowerCase(), name, await hashPassword(password)],
      );
      return row(result.rows[0]);
    },
    async findById(id) {
      return row((await pool.query(`SELECT * FROM ${table} WHERE id = $1`, [id])).rows[0]);
    },
    async findByEmail(email) {
      return row((await pool.query(`SELECT * FROM ${table} WHERE email = $1`, [email.trim().toLowerCase()])).rows[0]);
    },
    async checkPassword(user, password) {
      return user !== undefined && passwordMatches(password, user.passwordHash);
    },
  };
}

module.exports = { openAccounts };
