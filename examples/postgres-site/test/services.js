// PostgreSQL and Redis for the tests: DATABASE_URL and REDIS_URL when set; otherwise
// throwaway servers on free loopback ports in a temporary directory, stopped at the end.
const { execFileSync, spawn } = require("node:child_process");
const { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** A PostgreSQL program: on the PATH, or in Debian's /usr/lib/postgresql/<version>/bin. */
function postgresBinary(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, "bin", name))) return path.join(root, v, "bin", name);
  throw new Error(`${name} not found: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL.`);
}

async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const [initdb, pgCtl] = [postgresBinary("initdb"), postgresBinary("pg_ctl")];
  const dir = mkdtempSync(path.join(os.tmpdir(), "postgres-site-pg-"));
  // PostgreSQL refuses to run as root: as root, run it as the postgres user the package creates.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  const run = (bin, args) =>
    asRoot ? execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "pipe" }) : execFileSync(bin, args, { stdio: "pipe" });
  const data = path.join(dir, "data");
  run(initdb, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  run(pgCtl, ["-D", data, "-l", path.join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      run(pgCtl, ["-D", data, "-m", "immediate", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startRedis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const failed = new Promise((_, reject) =>
    child.on("error", () => reject(new Error("redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL."))),
  );
  for (let i = 0; i < 100; i++) {
    const up = await Promise.race([
      failed,
      new Promise((resolve) =>
        net
          .connect(port, "127.0.0.1")
          .on("connect", function () {
            this.end();
            resolve(true);
          })
          .on("error", () => resolve(false)),
      ),
    ]);
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: async () => void child.kill("SIGKILL") };
}

module.exports = { startPostgres, startRedis };
