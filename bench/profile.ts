/**
 * Where a signed-in page view's CPU goes, by layer, for the product and the peer side by side:
 * each server under V8's CPU profiler (bench/profile-hook.cjs) while autocannon sends REQUESTS
 * signed-in GET /dashboard, in five interleaved rounds; the profiles' self time per layer, in µs
 * per request. The profiler runs only during the load: start-up and sign-in are not in it.
 * npm run bench:profile   (builds first; a throwaway redis-server; taskset when there is one)
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { startRedisServer } from "../test/helpers/redis-server";
import { buildProduct, pin, type RunningTarget, startTarget, stopMail, type TargetName } from "./targets";

const REQUESTS = Number(process.env.REQUESTS ?? 30_000);
const HOOK = path.join(__dirname, "profile-hook.cjs");
const PROFILED: TargetName[] = ["product", "peer + headers + log", "peer", "ceiling"];

/** The layer a profile frame belongs to, by the file its code is in. */
function layerOf(url: string, fn: string): string {
  if (!url) return fn === "(garbage collector)" ? "garbage collection" : fn === "(idle)" || fn === "(program)" ? fn : "native (sockets, writes)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  // The package's and the site's files alike, by their path inside their house (built or not).
  const ours = /\/(?:dist|src)\/(?:package\/|site\/)?(.+)\.[jt]s/.exec(url)?.[1];
  if (
    pkg &&
    ["express", "router", "parseurl", "finalhandler", "encodeurl", "send", "serve-static", "mime-types", "body-parser", "type-is", "content-type"].includes(pkg)
  )
    return "express and router";
  if (pkg && ["express-session", "cookie", "cookie-signature", "on-headers", "uid-safe", "depd", "debug"].includes(pkg)) return "express-session";
  if (pkg === "@redis/client" || pkg === "connect-redis" || ours?.startsWith("session-store/") || ours?.startsWith("redis/"))
    return "the store (and its cache)";
  if (pkg === "helmet" || ours === "middleware/security-headers") return "helmet headers";
  if (pkg === "csrf-sync" || pkg === "csrf-csrf" || pkg === "cookie-parser" || ours === "middleware/csrf") return "CSRF";
  if (ours === "middleware/current-user" || ours === "middleware/require-auth" || ours === "middleware/rotation") return "current user (and rotation)";
  if (ours === "middleware/page-locals" || ours === "middleware/flash" || ours === "middleware/ending-notice" || pkg === "date-fns") return "page locals";
  if (pkg === "pino" || pkg === "sonic-boom" || pkg === "fast-redact" || pkg === "quick-format-unescaped" || ours === "middleware/request-logger")
    return "logging";
  if (pkg === "ejs" || url.endsWith(".ejs") || url.endsWith('.ejs"') || ours === "app") return "EJS (and the view setup)";
  if (url.startsWith("node:internal/crypto") || url === "node:crypto") return "hashing (cookie signature, session hash, handle)";
  if (url.startsWith("node:")) return "Node.js HTTP, streams, events";
  if (/\/bench\/[\w-]+\.ts/.test(url)) return "the route (page data)";
  if (url.includes("/bench/.sites/")) return "the site's own code (examples/auth)";
  if (ours === "middleware/track" || ours === "middleware/legacy-move" || ours === "site-middleware") return "track() (and the legacy move)";
  if (ours) return `ours: ${ours}`;
  return pkg ?? url;
}

interface Profile {
  nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Adds one profile's self time (µs) to the layers it was spent in. */
function addSamples(layers: Map<string, number>, profile: Profile): void {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)!;
    const layer = layerOf(frame.url, frame.functionName);
    if (layer !== "(idle)") layers.set(layer, (layers.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
}

/**
 * Profiles the targets against one Redis (each on CPU 1 where taskset is), in interleaved
 * rounds so that drift on a shared machine falls on all alike, and returns the side-by-side
 * table: a row per layer, a column per target (all its rounds' samples over all its requests),
 * and the product's difference from the peer with the product's headers and log line.
 */
export function profileSideBySide(redisUrl: string, requests = REQUESTS, names: TargetName[] = PROFILED): Promise<string> {
  return profileTargets(
    names,
    (name, nodeArgs, env) => startTarget(name as TargetName, { url: redisUrl }, { cpu: 1, nodeArgs, env }),
    requests,
    "peer + headers + log",
  );
}

/**
 * The side-by-side profile of any targets: `start` starts one under the profile hook (its
 * `nodeArgs` and `env`), signed in. `against` names the column the first is compared with.
 */
export async function profileTargets(
  names: string[],
  start: (name: string, nodeArgs: string[], env: Record<string, string>) => Promise<RunningTarget>,
  requests = REQUESTS,
  against = names[names.length - 1],
): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "session-profile-"));
  const rounds = 5;
  const columns = names.map((name) => ({
    name,
    file: path.join(dir, `${name.replace(/\W+/g, "-")}.cpuprofile`),
    layers: new Map<string, number>(),
    requests: 0,
  }));
  const targets: RunningTarget[] = [];
  try {
    for (const c of columns) {
      const target = await start(c.name, ["--require", HOOK], { PROFILE_FILE: c.file });
      targets.push(target);
      // Warm-up: the JIT settles before any profile starts.
      await autocannon({ url: `${target.base}${target.page}`, connections: 10, amount: Math.min(5000, requests), headers: target.headers });
    }
    for (let round = 1; round <= rounds; round++) {
      for (const [i, target] of targets.entries()) {
        target.child.kill("SIGUSR2");
        const result = await autocannon({
          url: `${target.base}${target.page}`,
          connections: 10,
          amount: Math.ceil(requests / rounds),
          headers: target.headers,
        });
        target.child.kill("SIGUSR2");
        if (result.non2xx > 0) throw new Error(`${target.name}: ${result.non2xx} responses were not 200`);
        const file = `${columns[i].file}.${round}`;
        const deadline = Date.now() + 10_000;
        while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 200));
        addSamples(columns[i].layers, JSON.parse(readFileSync(file, "utf8")));
        columns[i].requests += result.requests.total;
      }
    }
  } finally {
    for (const t of targets) await t.stop();
  }
  const perRequest = columns.map((c) => new Map([...c.layers].map(([layer, us]) => [layer, us / c.requests])));
  const layers = [...new Set(perRequest.flatMap((c) => [...c.keys()]))]
    .map((layer) => ({ layer, us: perRequest.map((c) => c.get(layer) ?? 0) }))
    .filter((row) => row.us.some((us) => us >= 0.5))
    .sort((a, b) => b.us[0] - a.us[0]);
  const againstAt = names.indexOf(against);
  const cell = (us: number) => (us === 0 ? "–" : us.toFixed(1));
  const diff = (us: number[]) => (againstAt <= 0 ? "" : ` ${(us[0] - us[againstAt] >= 0 ? "+" : "") + (us[0] - us[againstAt]).toFixed(1)} |`);
  const lines = [
    `| layer (self time, µs per request) | ${names.join(" | ")} |${againstAt <= 0 ? "" : ` ${names[0]} − ${against} |`}`,
    `|---|${names.map(() => "---:").join("|")}|${againstAt <= 0 ? "" : "---:|"}`,
    ...layers.map((row) => `| ${row.layer} | ${row.us.map(cell).join(" | ")} |${diff(row.us)}`),
  ];
  const totals = names.map((_, i) => layers.reduce((sum, row) => sum + row.us[i], 0));
  lines.push(`| **total** | ${totals.map((t) => `**${t.toFixed(1)}**`).join(" | ")} |${diff(totals)}`);
  return lines.join("\n");
}

async function main() {
  pin(process.pid, 0);
  buildProduct();
  const redis = await startRedisServer();
  pin(redis.pid, 0);
  try {
    const table = await profileSideBySide(redis.url);
    console.log(`\nsigned-in GET /dashboard, ${REQUESTS} requests each, V8 CPU profile during the load, self time by layer\n`);
    console.log(table);
  } finally {
    await redis.stop();
    await stopMail();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
