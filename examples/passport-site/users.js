// The site's users in SQLite: integer ids, a plan, and a scrypt password hash.
const { randomBytes, scryptSync, timingSafeEqual } = require("node:crypto");
const Database = require("better-sqlite3");

function openUsers(file = ":memory:") {
  const db = new Database(file);
  db.exec(`CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    plan TEXT NOT NULL DEFAULT 'free',
    password_hash TEXT NOT NULL,
    password_version INTEGER NOT NULL DEFAULT 1
  )`);
  const hash = (password, salt = randomBytes(16).toString("hex")) => `${salt}:${scryptSync(password, salt, 32).toString("hex")}`;
  return {
    create(login, name, password, plan = "free") {
      const { lastInsertRowid } = db.prepare("INSERT INTO users (username, name, plan, password_hash) VALUES (?,?,?,?)").run(login, name, plan, hash(password));
      return this.findById(Number(lastInsertRowid));
    },
    findById: (id) => db.prepare("SELECT * FROM users WHERE id = ?").get(id) ?? null,
    findByUsername: (username) => db.prepare("SELECT * FROM users WHERE username = ?").get(username) ?? null,
    checkPassword(user, password) {
      if (!user || typeof password !== "string") return false;
      const [salt] = user.password_hash.split(":");
      return timingSafeEqual(Buffer.from(hash(password, salt)), Buffer.from(user.password_hash));
    },
    close: () => db.close(),
  };
}

module.exports = { openUsers };
