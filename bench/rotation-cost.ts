/**
 * What stolen-cookie detection costs in Redis: one signed-in browser viewing a page every
 * minute for an hour of a moved clock, with SESSION_ROTATE_INTERVAL at 900 s (the default)
 * and at 0 (off), counted with MONITOR. npm run bench:rotation
 * (one server: REDIS_URL if set, otherwise a throwaway server). A Lua script counts as one command.
 */
import { loadConfig } from "../src/package/config";
import { openBackend } from "../src/site/backend";
import { startRedisServer } from "../test/helpers/redis-server";
import { monitorCommands } from "../test/helpers/topology";
import { servedSite } from "./served-site";

const MINUTES = 60;

async function main() {
  const own = process.env.REDIS_URL ? undefined : await startRedisServer();
  try {
    for (const interval of ["900", "0"]) await hour(interval, process.env.REDIS_URL ?? own!.url);
  } finally {
    await own?.stop();
  }
}

async function hour(interval: string, url: string) {
  const prefix = `benchrot${Date.now()}:`;
  let at = Date.now();
  const config = loadConfig({ SESSION_SECRET: "bench-secret-bench-secret-bench-secret", REDIS_URL: url, SESSION_ROTATE_INTERVAL: interval });
  const backend = await openBackend(config, { keyPrefix: prefix, now: () => at, events: { mailWritten: () => {} } });
  const { go, form, close } = await servedSite(config, backend);
  await form("/signup", { name: "Bench", email: `bench${Date.now()}@example.com`, password: "bench password 123" });
  const monitor = await monitorCommands(backend.redis!, prefix);
  let rotations = 0;
  for (let i = 0; i < MINUTES; i++) {
    at += 60_000;
    const res = await go("/dashboard");
    if (res.status !== 200) throw new Error(`minute ${i} answered ${res.status}`);
    await res.arrayBuffer();
    if (res.headers.getSetCookie().some((c) => c.startsWith("sid="))) rotations++;
  }
  const commands = await monitor.stop();
  const byName = new Map<string, number>();
  for (const name of commands) byName.set(name, (byName.get(name) ?? 0) + 1);
  console.log(`SESSION_ROTATE_INTERVAL=${interval}: ${MINUTES} page views, one a minute, ${rotations} new ids`);
  console.log(
    `  Redis commands in the hour: ${commands.length} (${[...byName].map(([n, c]) => `${n} ${c}`).join(", ")}); per page view: ${(commands.length / MINUTES).toFixed(3)}`,
  );
  await close();
  await backend.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
