/**
 * Memory of two small things, on a throwaway Redis:
 * - each cached session record in the process: 10,000 signed-in sessions written, then read
 *   once each through a client with SESSION_CACHE_ENTRIES on; the heap after a full GC,
 *   before and after, divided by the entries;
 * - each tombstone in Redis (why a session ended): 10,000 sessions ended by another device,
 *   Redis's used_memory before and after, against the records the ends removed.
 * npm run bench:cache   (runs node with --expose-gc)
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../src/package/config";
import { connectRedis } from "../src/package/redis/connect";
import { RedisSessionStore } from "../src/package/session-store/redis-session-store";
import { startRedisServer } from "../test/helpers/redis-server";
import { withState } from "../test/helpers/stores";

const ENTRIES = Number(process.env.ENTRIES ?? 10_000);
const CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

async function main() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc (npm run bench:cache)");
  const server = await startRedisServer();
  const config = loadConfig({ SESSION_SECRET: "bench-secret-bench-secret-bench-secret", REDIS_URL: server.url });
  const client = await connectRedis(server.url, ENTRIES);
  try {
    const store = new RedisSessionStore({ client, lifetime: config.lifetime, cookie: config.cookie, maxSessionsPerUser: 100 });
    const ids: string[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      const sid = randomBytes(24).toString("base64url");
      ids.push(sid);
      const user = { name: `Person ${i}`, email: `person${i}@example.com`, role: "user", org: null, ver: Date.now() * 1000, cv: 1 };
      const sess = withState(
        { cookie: {} },
        { userId: randomBytes(16).toString("base64url"), user, userAgent: CHROME, ip: "203.0.113.7", csrfToken: randomBytes(16).toString("hex") },
      );
      await store.set(sid, sess);
    }
    // Writes were not reads: nothing is cached yet.
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const sid of ids) await new Promise((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(`${ENTRIES} session records, each read once through a client with SESSION_CACHE_ENTRIES=${ENTRIES}`);
    console.log(`heap: +${((after - before) / 1024 / 1024).toFixed(1)} MB, ${Math.round((after - before) / ENTRIES)} bytes per cached session`);

    // Tombstones: what Redis holds once every session has ended, against an empty keyspace.
    const used = async () => Number(/used_memory:(\d+)/.exec(await client.info("memory"))![1]);
    for (const sid of ids) await new Promise((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve(null))));
    const empty = await used();
    for (let i = 0; i < ENTRIES; i++) {
      const sid = randomBytes(24).toString("base64url");
      await store.set(sid, withState({ cookie: {} }, { userId: `u${i}`, user: { name: "A", email: "a@example.com", role: "user", org: null, ver: 1, cv: 1 } }));
      await store.endUserSessions(`u${i}`, undefined, { reason: "other-device", at: Date.now(), device: "Chrome on Windows" });
    }
    const withTombstones = await used();
    console.log(
      `${ENTRIES} tombstones ("signed out from Chrome on Windows"): ${Math.round((withTombstones - empty) / ENTRIES)} bytes of Redis each, expiry included`,
    );
  } finally {
    await client.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
