/**
 * Redis commands per signed-in request, counted with MONITOR over 1,000 requests.
 * npm run bench:round-trips   (uses REDIS_URL if set, otherwise a throwaway redis-server)
 * A Lua script counts as one command; the commands it runs inside are not counted.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { createApp } from "../src/app";
import { openBackend } from "../src/backend";
import { loadConfig } from "../src/config";
import { PasswordHasher } from "../src/users/password";
import { startRedisServer } from "../test/helpers/redis-server";

const REQUESTS = Number(process.env.REQUESTS ?? 1000);

async function main() {
  const own = process.env.REDIS_URL ? undefined : await startRedisServer();
  const url = process.env.REDIS_URL ?? own!.url;
  const prefix = `bench${Date.now()}:`;
  const config = loadConfig({ SESSION_SECRET: "bench-secret-bench-secret-bench-secret", REDIS_URL: url });
  // The server's own wiring, on this run's keys.
  const backend = await openBackend(config, { keyPrefix: prefix });
  const app = createApp({ ...backend, config, logger: pino({ level: "silent" }), passwords: new PasswordHasher() });
  const server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // A browser's cookie jar: the CSRF cookie of the sign-up form, then the session and device cookies.
  const jar = new Map<string, string>();
  const go = async (path: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const res = await fetch(base + path, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie } });
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  };
  const form = async (path: string, fields: Record<string, string>) => {
    const page = await (await go(path)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    return go(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    });
  };
  await form("/signup", { name: "Bench", email: `bench${Date.now()}@example.com`, password: "bench password 123" });
  await go("/dashboard");
  await go("/dashboard");

  const monitor = backend.redis!.duplicate();
  await monitor.connect();
  const commands: string[] = [];
  await monitor.monitor((line: string) => {
    if (line.includes(prefix)) commands.push(line);
  });
  for (let i = 0; i < REQUESTS; i++) {
    const res = await go("/dashboard");
    if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}`);
    await res.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 200));
  const byName = new Map<string, number>();
  for (const c of commands) {
    const name = /"(\w+)"/.exec(c)?.[1]?.toUpperCase() ?? "?";
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  console.log(`signed-in GET /dashboard, ${REQUESTS} requests inside the update window (${config.updateAge} s)`);
  console.log(`Redis commands sent: ${commands.length} (${[...byName].map(([n, c]) => `${n} ${c}`).join(", ")})`);
  console.log(`round trips per request: ${(commands.length / REQUESTS).toFixed(3)}`);

  await monitor.close();
  server.close();
  await backend.close();
  await own?.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
