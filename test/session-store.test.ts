import { randomBytes } from "node:crypto";
import { RedisStore } from "connect-redis";
import type { SessionData } from "express-session";
import type { RedisClientType } from "redis";
import { sendRaw } from "../src/package/redis/client";
import { EmbeddedSessionStore } from "../src/package/session-store/embedded-session-store";
import { RedisSessionStore } from "../src/package/session-store/redis-session-store";
import { handleOf } from "../src/package/session-store/session-record";
import { pauseBefore, writesSession } from "./helpers/paused-client";
import { connectTestRedis, embeddedStoreFactory, lifetime, readSession, redisStoreFactory, sleep, testCookie, uniquePrefix, withState } from "./helpers/stores";
import { monitorCommands, redisName, scanKeys, topology } from "./helpers/topology";
import { describeSessionStore } from "./session-store.contract";

describeSessionStore(redisName(), redisStoreFactory);
if (topology() === "single") describeSessionStore("embedded", embeddedStoreFactory);

const user = { name: "Ada", email: "a@example.com", role: "user" as const, org: null, ver: 1, cv: 1 };
const signedIn = (userId: string) => withState({ cookie: {} }, { userId, user, userAgent: "UA", ip: "192.0.2.1" });

describe(`${redisName()} store against a real server`, () => {
  test("when a naive connect-redis store meets the revoke race, then the session comes back (the bug this store prevents)", async () => {
    const client = await connectTestRedis();
    try {
      const naive = new RedisStore({ client, prefix: uniquePrefix() });
      const sid = randomBytes(24).toString("base64url");
      await naive.set(sid, signedIn("u1"));
      const inFlight = (await naive.get(sid)) as SessionData;
      await naive.destroy(sid);
      inFlight.csrfToken = "slow request";
      await naive.set(sid, inFlight);
      expect(await naive.get(sid)).not.toBeNull();
    } finally {
      await client.close();
    }
  });

  test("when sessions are stored, then no key and no value holds the raw session id", async () => {
    const client = await connectTestRedis();
    const prefix = uniquePrefix();
    try {
      const store = new RedisSessionStore({ client, prefix, lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100 });
      const sid = randomBytes(24).toString("base64url");
      await store.set(sid, signedIn("u1"));
      const keys = await scanKeys(client, `${prefix}*`);
      expect(keys.sort()).toEqual([`${prefix}${handleOf(sid)}`, `${prefix}user:{u1}`].sort());
      const dump = JSON.stringify([await client.get(keys.find((k) => !k.includes("user:"))!), await client.zRange(`${prefix}user:{u1}`, 0, -1)]);
      expect(dump).not.toContain(sid);
    } finally {
      await client.close();
    }
  });

  test("when fewer replicas than REDIS_WAIT_REPLICAS acknowledge in time, then the write is answered and the shortfall reported", async () => {
    const client = await connectTestRedis();
    try {
      const shortfalls: Array<[number, number]> = [];
      // More replicas than any test topology has (none on one server, one per master elsewhere).
      // WAIT runs to its timeout: long enough for the one replica to acknowledge on a busy host.
      const replicaWait = { replicas: 5, timeoutMs: 500, onShortfall: (acked: number, wanted: number) => shortfalls.push([acked, wanted]) };
      const store = new RedisSessionStore({ client, prefix: uniquePrefix(), lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100, replicaWait });
      const sid = randomBytes(24).toString("base64url");
      await store.set(sid, signedIn("u1"));
      expect(await store.endUserSession("u1", handleOf(sid))).toBe(true);
      expect(await readSession(store, sid)).toBeNull();
      // Once for the sign-in, once for the revocation; the test Redis has no replica on one
      // server and one per master on Cluster and Sentinel.
      const replicas = topology() === "single" ? 0 : 1;
      expect(shortfalls).toEqual([
        [replicas, 5],
        [replicas, 5],
      ]);
    } finally {
      await client.close();
    }
  });

  describe("a sign-in racing 'sign out everywhere', interleaved at each point", () => {
    // The sign-in writes its index entry, then its record; the ending deletes the records, drops
    // the entries, then deletes the records again. On a Cluster the two keys are in different
    // slots, so no single step covers both; each interleaving below must still end the session.
    const setUp = async () => {
      const client = await connectTestRedis();
      const prefix = uniquePrefix();
      const storeOn = (c: typeof client) => new RedisSessionStore({ client: c, prefix, lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100 });
      return { client, prefix, storeOn, ender: storeOn(client), sid: randomBytes(24).toString("base64url") };
    };

    test("when everything is ended between the sign-in's index entry and its record, then the new session ends too", async () => {
      const { client, prefix, storeOn, ender, sid } = await setUp();
      try {
        const signingIn = pauseBefore(client, writesSession("create"));
        const signIn = storeOn(signingIn.client).set(sid, signedIn("u1"));
        await signingIn.reached;
        expect(await ender.endUserSessions("u1")).toBe(0);
        signingIn.release();
        await signIn;
        expect(await readSession(ender, sid)).toBeNull();
        expect(await ender.listUserSessions("u1")).toEqual([]);
        expect(await client.exists(`${prefix}${handleOf(sid)}`)).toBe(0);
      } finally {
        await client.close();
      }
    });

    test("when the sign-in's record lands between the ending's deletes and its index removal, then the second delete ends it", async () => {
      const { client, storeOn, sid } = await setUp();
      try {
        const signingIn = pauseBefore(client, writesSession("create"));
        const ending = pauseBefore(client, (command) => command === "zRem");
        const signIn = storeOn(signingIn.client).set(sid, signedIn("u1"));
        await signingIn.reached;
        const endAll = storeOn(ending.client).endUserSessions("u1");
        await ending.reached;
        signingIn.release();
        await signIn;
        ending.release();
        expect(await endAll).toBe(1);
        const reader = storeOn(client);
        expect(await readSession(reader, sid)).toBeNull();
        expect(await reader.listUserSessions("u1")).toEqual([]);
      } finally {
        await client.close();
      }
    });

    test("when the sessions are listed while a sign-in is between its two writes, then its fresh entry is kept and it shows once written", async () => {
      const { client, storeOn, ender, sid } = await setUp();
      try {
        const signingIn = pauseBefore(client, writesSession("create"));
        const signIn = storeOn(signingIn.client).set(sid, signedIn("u1"));
        await signingIn.reached;
        expect(await ender.listUserSessions("u1")).toEqual([]);
        signingIn.release();
        await signIn;
        expect((await ender.listUserSessions("u1")).map((s) => s.handle)).toEqual([handleOf(sid)]);
        expect(await readSession(ender, sid)).not.toBeNull();
      } finally {
        await client.close();
      }
    });
  });

  describe("each process's cache of session records, kept fresh by Redis", () => {
    type Cached = { clientSideCache?: { stats(): { hitCount: number } } };
    const storeOn = (client: RedisClientType, prefix: string) =>
      new RedisSessionStore({ client, prefix, lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100 });

    test("when a session is ended on one instance, then the other answers it signed out at once, 1,000 times in 1,000", async () => {
      const [clientA, clientB] = [await connectTestRedis(), await connectTestRedis()];
      try {
        const prefix = uniquePrefix();
        const [a, b] = [storeOn(clientA, prefix), storeOn(clientB, prefix)];
        let stale = 0;
        for (let i = 0; i < 1000; i++) {
          const sid = randomBytes(24).toString("base64url");
          const uid = `u${i % 10}`;
          await a.set(sid, signedIn(uid));
          // Read twice on B: the second read is answered from B's memory.
          expect(await readSession(b, sid)).not.toBeNull();
          expect(await readSession(b, sid)).not.toBeNull();
          // Each way a session ends: one session, all of the user's, a sign-out.
          if (i % 3 === 0) await a.endUserSession(uid, handleOf(sid));
          else if (i % 3 === 1) await a.endUserSessions(uid);
          else await new Promise<void>((resolve, reject) => a.destroy(sid, (err) => (err ? reject(err) : resolve())));
          if ((await readSession(b, sid)) !== null) stale++;
        }
        expect(stale).toBe(0);
        // The reads were served from memory: this is the cache at work, not a cache that never hits.
        expect((clientB as Cached).clientSideCache?.stats().hitCount ?? 0).toBeGreaterThanOrEqual(1000);
      } finally {
        await Promise.all([clientA.close(), clientB.close()]);
      }
    }, 60_000);

    test("when the connection that carries the invalidations is killed while another client ends the session, then no read answers it", async () => {
      const [reader, writer] = [await connectTestRedis(), await connectTestRedis()];
      try {
        const prefix = uniquePrefix();
        const [b, a] = [storeOn(reader, prefix), storeOn(writer, prefix)];
        const sid = randomBytes(24).toString("base64url");
        await a.set(sid, signedIn("u1"));
        await readSession(b, sid);
        expect(await readSession(b, sid)).not.toBeNull();
        // Kill the reader's connections on every server that holds its tracked keys.
        await killConnectionsOf(reader, writer);
        await a.endUserSession("u1", handleOf(sid));
        let answer: unknown = "no answer";
        for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
          try {
            answer = await readSession(b, sid);
            break;
          } catch {
            await sleep(20); // reconnecting: a failed read is not a stale one
          }
        }
        expect(answer).toBeNull();
      } finally {
        await Promise.all([reader.close(), writer.close()]);
      }
    });
  });

  test("when a user's sessions are listed among many others, then only that user's keys are read (no SCAN, no KEYS)", async () => {
    const client = await connectTestRedis();
    try {
      const store = new RedisSessionStore({ client, prefix: uniquePrefix(), lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100 });
      for (let i = 0; i < 50; i++) await store.set(randomBytes(24).toString("base64url"), signedIn(`other${i}`));
      for (let i = 0; i < 3; i++) await store.set(randomBytes(24).toString("base64url"), signedIn("me"));
      const monitor = await monitorCommands(client, "");
      expect(await store.listUserSessions("me")).toHaveLength(3);
      const names = await monitor.stop();
      expect(names.filter((n) => n === "ZRANGE")).toHaveLength(1);
      expect(names.filter((n) => n === "GET")).toHaveLength(3);
      expect(names).not.toContain("SCAN");
      expect(names).not.toContain("KEYS");
    } finally {
      await client.close();
    }
  });
});

describe("embedded store bounds", () => {
  test("when more sessions arrive than it may hold, then it drops the least recently written and keeps the index consistent", async () => {
    const store = new EmbeddedSessionStore({ lifetime: lifetime(), cookie: testCookie, maxSessionsPerUser: 100, maxSessions: 10 });
    try {
      const ids = Array.from({ length: 25 }, () => randomBytes(24).toString("base64url"));
      for (const id of ids) await store.set(id, signedIn("u1"));
      expect(store.size).toBe(10);
      const listed = (await store.listUserSessions("u1")).map((r) => r.handle).sort();
      expect(listed).toEqual(ids.slice(-10).map(handleOf).sort());
    } finally {
      await store.close();
    }
  });
});

/** Kills every connection `victim` has open, using `killer`'s connections to the same servers. */
async function killConnectionsOf(victim: RedisClientType, killer: RedisClientType): Promise<void> {
  type Node = { host: string; port: number };
  type Cluster = { masters: Node[]; nodeClient(node: Node): Promise<RedisClientType> };
  if ("masters" in victim) {
    const [v, k] = [victim as unknown as Cluster, killer as unknown as Cluster];
    for (const master of v.masters) {
      const mine = await v.nodeClient(master);
      const theirs = await k.nodeClient(k.masters.find((m) => m.host === master.host && m.port === master.port)!);
      await theirs.sendCommand(["CLIENT", "KILL", "ID", String(await mine.clientId())]);
    }
    return;
  }
  const id = await sendRaw<number>(victim, undefined, ["CLIENT", "ID"]);
  await sendRaw(killer, undefined, ["CLIENT", "KILL", "ID", String(id)]);
}
