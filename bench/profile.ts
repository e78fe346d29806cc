/**
 * Where a signed-in page view's CPU goes, by layer: the real server (dist/site/server.js,
 * NODE_ENV=production) under `node --cpu-prof`, signed in, then REQUESTS signed-in
 * GET /dashboard from autocannon; the profile's self time per layer, in µs per request.
 * npm run bench:profile   (builds first; a throwaway redis-server; taskset when there is one)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { freePort, startRedisServer } from "../test/helpers/redis-server";

const REQUESTS = Number(process.env.REQUESTS ?? 30_000);
const ROOT = path.join(__dirname, "..");
const HAS_TASKSET = spawnSync("taskset", ["-V"]).status === 0 && os.cpus().length >= 2;

/** The layer a profile frame belongs to, by the file its code is in. */
function layerOf(url: string, fn: string): string {
  if (!url) return fn === "(garbage collector)" ? "garbage collection" : fn === "(idle)" || fn === "(program)" ? fn : "native (sockets, writes)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  // The package's and the site's files alike, by their path inside their house.
  const ours = /\/dist\/(?:package\/|site\/)?(.+)\.js/.exec(url)?.[1];
  if (
    pkg &&
    ["express", "router", "parseurl", "finalhandler", "encodeurl", "send", "serve-static", "mime-types", "body-parser", "type-is", "content-type"].includes(pkg)
  )
    return "express and router";
  if (pkg && ["express-session", "cookie", "cookie-signature", "on-headers", "uid-safe", "depd", "debug"].includes(pkg)) return "express-session";
  if (pkg === "@redis/client" || ours?.startsWith("session-store/") || ours?.startsWith("redis/")) return "the store (and its cache)";
  if (pkg === "helmet" || ours === "middleware/security-headers") return "helmet headers";
  if (pkg === "csrf-sync" || pkg === "csrf-csrf" || pkg === "cookie-parser" || ours === "middleware/csrf") return "CSRF";
  if (ours === "middleware/current-user" || ours === "middleware/require-auth" || ours === "middleware/rotation") return "current user (and rotation)";
  if (ours === "middleware/page-locals" || ours === "middleware/flash" || pkg === "date-fns") return "page locals";
  if (pkg === "pino" || pkg === "sonic-boom" || pkg === "fast-redact" || pkg === "quick-format-unescaped" || ours === "middleware/request-logger")
    return "logging";
  if (pkg === "ejs" || url.endsWith(".ejs") || url.endsWith('.ejs"')) return "EJS";
  if (url.startsWith("node:internal/crypto") || url === "node:crypto") return "hashing (cookie signature, session hash, handle)";
  if (url.startsWith("node:")) return "Node.js HTTP, streams, events";
  if (ours) return `ours: ${ours}`;
  return pkg ?? url;
}

async function main() {
  spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  const redis = await startRedisServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), "session-profile-"));
  const port = await freePort();
  let server: ChildProcess | undefined;
  try {
    server = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, path.join(ROOT, "dist", "site", "server.js")], {
      env: {
        ...process.env,
        NODE_ENV: "production",
        REDIS_URL: redis.url,
        SESSION_SECRET: "profile-secret-profile-secret-profile",
        TRUST_PROXY: "1",
        PORT: String(port),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (HAS_TASKSET && server.pid) spawnSync("taskset", ["-a", "-cp", "1", String(server.pid)], { stdio: "ignore" });
    const base = `http://127.0.0.1:${port}`;
    const cookie = await signIn(base);
    const result = await autocannon({
      url: `${base}/dashboard`,
      connections: 10,
      amount: REQUESTS,
      headers: { cookie, "x-forwarded-proto": "https" },
    });
    if (result.non2xx > 0) throw new Error(`${result.non2xx} responses were not 200: not signed in?`);
    server.kill("SIGINT");
    await new Promise((resolve) => server!.once("exit", resolve));
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("no profile written");
    report(JSON.parse(readFileSync(path.join(dir, file), "utf8")), result.requests.total);
  } finally {
    server?.kill("SIGKILL");
    await redis.stop();
  }
}

interface Profile {
  nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
  samples: number[];
  timeDeltas: number[];
}

function report(profile: Profile, requests: number) {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byLayer = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)!;
    const layer = layerOf(frame.url, frame.functionName);
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  byLayer.delete("(idle)");
  const busy = [...byLayer.values()].reduce((a, b) => a + b, 0);
  console.log(`\nsigned-in GET /dashboard, ${requests} requests, node --cpu-prof self time by layer (start-up included)\n`);
  console.log("| layer | µs per request | share |");
  console.log("|---|---|---|");
  for (const [layer, us] of [...byLayer].sort((a, b) => b[1] - a[1])) {
    if (us / requests < 0.5) continue;
    console.log(`| ${layer} | ${(us / requests).toFixed(1)} | ${((100 * us) / busy).toFixed(0)} % |`);
  }
  console.log(`| **total** | **${(busy / requests).toFixed(1)}** | |`);
}

async function signIn(base: string): Promise<string> {
  const jar = new Map<string, string>();
  const go = async (p: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(base + p, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie, "x-forwarded-proto": "https" } });
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(";");
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
    return res;
  };
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`${base}/healthz`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const page = await (await go("/signup")).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
  const body = new URLSearchParams({ _csrf: csrf, name: "Ada Lovelace", email: `ada${Date.now()}@example.com`, password: "profile password 123" });
  await go("/signup", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() });
  return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
