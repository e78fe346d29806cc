/**
 * The migration of a site switching from connect-redis (docs/adopting.md, "Switching from
 * connect-redis"): how fast every session connect-redis kept is made the package's and
 * indexed under its account, and what another client of the same Redis sees meanwhile.
 * npm run bench:migration   (SESSIONS=100000 by default, over 1,000 accounts; a throwaway redis-server)
 */
import { createClient, type RedisClientType } from "redis";
import { createSessions } from "../src/package/index";
import { startRedisServer } from "../test/helpers/redis-server";

const SESSIONS = Number(process.env.SESSIONS ?? 100_000);
const ACCOUNTS = 1_000;
const PING_EVERY_MS = 5;

async function main() {
  const server = await startRedisServer();
  const client = createClient({ url: server.url, disableOfflineQueue: true }) as RedisClientType;
  const prober = createClient({ url: server.url }) as RedisClientType;
  await Promise.all([client.connect(), prober.connect()]);
  try {
    await writeConnectRedisSessions(client);
    const sessions = createSessions({
      accounts: { findById: async (id) => ({ id, name: `User ${id}`, email: `user${id}@example.com` }), verifyPassword: async () => false },
      secret: "bench-secret-bench-secret-bench-secret",
      redis: client,
      keyPrefix: "new:",
      userIdOf: () => undefined,
      legacy: { prefix: "sess:", userIdOf: (s) => (s.passport as { user?: number } | undefined)?.user, migrate: false },
      events: { mailWritten: () => {} },
    });
    await sessions.ready();
    const pings = probe(prober);
    const started = performance.now();
    const done = await sessions.migrateLegacySessions();
    const seconds = (performance.now() - started) / 1000;
    const latencies = pings.stop();
    const memory = /used_memory_human:(\S+)/.exec(await client.info("memory"))?.[1];
    console.log(`${SESSIONS} sessions of ${ACCOUNTS} accounts: ${JSON.stringify(done)}`);
    console.log(`${seconds.toFixed(1)} s, ${Math.round(done.moved / seconds)} a second; Redis memory after it: ${memory}`);
    console.log(
      `PING every ${PING_EVERY_MS} ms from another client meanwhile: ${latencies.length} answered, mean ${mean(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
    );
    await sessions.close();
  } finally {
    await Promise.all([client.close(), prober.close()]);
    await server.stop();
  }
}

/** What connect-redis 9 writes for a Passport sign-in: JSON under "sess:" and the raw id, with EX. */
async function writeConnectRedisSessions(client: RedisClientType): Promise<void> {
  const expires = new Date(Date.now() + 14 * 86_400_000).toISOString();
  for (let from = 0; from < SESSIONS; from += 1_000) {
    await Promise.all(
      Array.from({ length: Math.min(1_000, SESSIONS - from) }, (_, i) => {
        const n = from + i;
        const record = { cookie: { originalMaxAge: 14 * 86_400_000, expires, httpOnly: true, path: "/" }, passport: { user: n % ACCOUNTS } };
        return client.set(`sess:bench-${n.toString(36).padStart(28, "0")}`, JSON.stringify(record), { EX: 14 * 86_400 });
      }),
    );
  }
}

function probe(client: RedisClientType): { stop(): number[] } {
  const latencies: number[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const sent = performance.now();
      await client.ping();
      latencies.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, PING_EVERY_MS));
    }
  };
  void loop();
  return {
    stop: () => {
      running = false;
      return latencies;
    },
  };
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / Math.max(values.length, 1);

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
