/**
 * The store at scale: with 10,000, 100,000 and 1,000,000 sessions of other users in Redis,
 * the time to list one user's 10 sessions and to end all of one user's 100 sessions but one,
 * and the Redis memory each session takes, its index entry included.
 */
import { randomBytes } from "node:crypto";
import type { SessionData } from "express-session";
import { createClient, type RedisClientType } from "redis";
import { RedisSessionStore } from "../src/package/session-store/redis-session-store";
import { newUserId } from "../src/site/users/user-repository";
import { startRedisServer } from "../test/helpers/redis-server";
import { withState } from "../test/helpers/stores";

const TIERS = (process.env.BENCH_TIERS ?? "10000,100000,1000000").split(",").map(Number);
/** Other users have this many sessions each (a phone and a laptop). */
const SESSIONS_PER_USER = 2;
const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/** A signed-in session as the product writes it: account snapshot, device data, CSRF token. */
function session(userId: string): SessionData {
  const now = Date.now();
  return withState(
    { cookie: {} as SessionData["cookie"] },
    {
      userId,
      user: { name: "Ada Lovelace", email: `${userId.slice(0, 8)}@example.com`, role: "user", org: null, ver: 1, cv: 1 },
      credVersion: 1,
      authAt: now,
      lastActiveAt: now,
      userAgent: UA,
      ip: "203.0.113.45",
      persistent: true,
      csrfToken: randomBytes(16).toString("hex"),
    },
  );
}

const sid = () => randomBytes(24).toString("base64url");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function usedMemory(client: RedisClientType): Promise<number> {
  const info = await client.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function measureScale(): Promise<void> {
  const redis = await startRedisServer();
  const client = createClient({ url: redis.url }) as RedisClientType;
  await client.connect();
  const store = new RedisSessionStore({
    client,
    lifetime: { idle: 30 * 86400_000, browserIdle: 12 * 3600_000, absolute: 90 * 86400_000, anonymous: 86400_000, updateAge: 60_000 },
    cookie: { httpOnly: true, path: "/", sameSite: "lax", secure: true },
    maxSessionsPerUser: 100,
  });
  const rows: string[][] = [];
  try {
    const me = newUserId();
    for (let i = 0; i < 10; i++) await store.set(sid(), session(me));
    const bulk = newUserId();
    let stored = 0;
    const baseline = await usedMemory(client);
    for (const tier of TIERS) {
      process.stdout.write(`filling Redis to ${tier.toLocaleString("en")} sessions of other users...\n`);
      const before = await usedMemory(client);
      const added = tier - stored;
      for (let i = 0; i < added; i += 2000) {
        const batch = [];
        for (let j = i; j < Math.min(i + 2000, added); j += SESSIONS_PER_USER) {
          const user = newUserId();
          for (let k = 0; k < SESSIONS_PER_USER; k++) batch.push(store.set(sid(), session(user)));
        }
        await Promise.all(batch);
      }
      stored = tier;
      const perSession = ((await usedMemory(client)) - before) / added;

      const list: number[] = [];
      for (let i = 0; i < 101; i++) list.push(await timeMs(() => store.listUserSessions(me)));
      const revoke: number[] = [];
      for (let i = 0; i < 11; i++) {
        const ids = Array.from({ length: 100 }, sid);
        for (const id of ids) await store.set(id, session(bulk));
        const keep = (await store.listUserSessions(bulk))[0].handle;
        revoke.push(await timeMs(() => store.endUserSessions(bulk, keep)));
      }
      rows.push([tier.toLocaleString("en"), median(list).toFixed(2), median(revoke).toFixed(2), perSession.toFixed(0)]);
    }
    const total = ((await usedMemory(client)) - baseline) / (stored + 10 + 1);
    console.log(`\nScale: other users have ${SESSIONS_PER_USER} sessions each; medians of 101 listings and 11 revocations\n`);
    const header = ["sessions in Redis", "list 10 sessions (ms)", "end 99 of 100 (ms)", "bytes per session added, index included"];
    console.log(`| ${header.join(" | ")} |`);
    console.log(`|${header.map((h) => "-".repeat(h.length + 2)).join("|")}|`);
    for (const r of rows) console.log(`| ${r.map((c, i) => c.padEnd(header[i].length)).join(" | ")} |`);
    const first = Number(rows[0][1]);
    const last = Number(rows[rows.length - 1][1]);
    console.log(`\nlisting at ${rows[rows.length - 1][0]} / at ${rows[0][0]}: ${(last / first).toFixed(2)} (target <= 2)`);
    console.log(`Redis memory per session over the whole fill: ${total.toFixed(0)} bytes (target <= 700)`);
  } finally {
    await client.close();
    await redis.stop();
  }
}
