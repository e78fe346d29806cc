import type { Request } from "express";
import type { SessionData } from "express-session";
import type { RedisClientType } from "redis";
import { sameBrowser } from "../middleware/rotation";
import { markOwn } from "../own-errors";
import { isCluster, sendRaw } from "../redis/client";
import { durableClient, type ReplicaWait, waitForReplicas } from "../redis/replica-wait";
import { type StallWatch, watchForStalls } from "../redis/stall-watch";
import { retryRead } from "../redis/unavailable";
import {
  emptyForCopy,
  type LegacyOptions,
  type LegacyStorePort,
  type MigrationOptions,
  type MigrationProgress,
  migrateLegacy,
  movedIdOfServed,
  readLegacy,
} from "./legacy-sessions";
import { indexSession, writeSession, writeSnapshot } from "./redis-scripts";
import { decodeEnding, encodeEnding, handleOf, isHandle, parseRecord, type SessionRecord } from "./session-record";
import { type Ending, peekState } from "./session-store";
import { type IndexEntry, SessionStoreCore, type StoreRules } from "./store-core";

export interface RedisSessionStoreOptions extends StoreRules {
  /**
   * Connected by the caller: a client of one server, or a Cluster or Sentinel client
   * (redis/connect.ts) given the same type. Every command here names one key.
   */
  client: RedisClientType;
  /** Prefix of every key this store writes. */
  prefix?: string;
  /** Wait for replicas after sign-ins and ends of sessions (REDIS_WAIT_REPLICAS). */
  replicaWait?: ReplicaWait;
  /** How long a session read is tried again while Redis is unavailable (a failover), in ms. */
  readRetryMs?: number;
  /** How often the link is checked for a stall, and how long a PING may take (ms); see stall-watch.ts. */
  stallCheck?: { intervalMs: number; timeoutMs: number };
  /** Told when the link to Redis stalls (no answer, no error), for the logs. */
  onStall?: () => void;
  /** A site moving from connect-redis: where its sessions are, and whose they are (legacy-sessions.ts). */
  legacy?: LegacyOptions;
  /** A watch of the caller's, shared with the client's bounds (session-backend.ts): it clears the cache itself, and the caller stops it. */
  stallWatch?: StallWatch;
  /** Told when a session read found Redis unavailable for its whole retry budget. */
  onUnreachable?: () => void;
}

/**
 * Sessions in Redis. Key layout (prefix "sess:" by default):
 *   sess:<handle>            string "uv\nuid\nu\nd" (session-record.ts), expires with the session
 *   sess:user:{<userId>}     sorted set of the user's handles, scored by last activity
 *   sess:x:<handle>          why a session ended (a tombstone), for a while
 *   sess:a:<handle>          held for seconds while a session connect-redis kept is made the package's
 *   sess:m:<handle>          "1": it was, kept as long as connect-redis would have kept the session
 * The braces are a Cluster hash tag: later per-user keys can share the index's slot.
 *
 * Not built on connect-redis: every method it implements had to be replaced here (a plain SET
 * would bring back a session ended meanwhile; its all/ids/length/clear SCAN the keyspace), so
 * the store rests on express-session's Store through SessionStoreCore like the embedded one,
 * and its Redis commands are these primitives.
 */
export class RedisSessionStore extends SessionStoreCore {
  private readonly redis: RedisClientType;
  private readonly prefix: string;
  private readonly replicaWait?: ReplicaWait;
  private readonly readRetryMs: number;
  /** The client's server-assisted cache (connect.ts), when it has one. */
  private readonly cache?: { invalidate(key: string): void; clear(): void };
  private readonly stallWatch: StallWatch;
  private readonly legacy?: LegacyOptions;
  private readonly ownsStallWatch: boolean;
  private readonly onUnreachable?: () => void;
  /** Visitors' sessions that could not be written, Redis away (writeVisitorRecord). */
  private readonly unsaved = new Set<string>();
  /** Visitors' sessions on their way to Redis, as they were sent. */
  private readonly sending = new Map<string, SessionRecord>();

  constructor(options: RedisSessionStoreOptions) {
    super(options);
    this.legacy = options.legacy;
    this.redis = options.client;
    this.prefix = options.prefix ?? "sess:";
    this.replicaWait = options.replicaWait;
    this.readRetryMs = options.readRetryMs ?? 0;
    this.onUnreachable = options.onUnreachable;
    this.cache = (options.client as { clientSideCache?: { invalidate(key: string): void; clear(): void } }).clientSideCache;
    const { intervalMs, timeoutMs } = options.stallCheck ?? {};
    this.ownsStallWatch = options.stallWatch === undefined;
    this.stallWatch =
      options.stallWatch ??
      watchForStalls(
        () => this.ping(),
        () => {
          // Nothing in the cache can be trusted: invalidations may be stuck in the stalled link.
          this.cache?.clear();
          options.onStall?.();
        },
        intervalMs,
        timeoutMs,
      );
  }

  /**
   * A session read on an old id that moved (legacy-sessions.ts) is handed only to the browser
   * it moved for: a copy of the old cookie elsewhere gets an empty session, whatever reads it
   * (a route before track(), another app on this store, a websocket handshake).
   */
  override createSession(req: Parameters<SessionStoreCore["createSession"]>[0], data: SessionData): ReturnType<SessionStoreCore["createSession"]> {
    if (this.legacy && movedIdOfServed(peekState(data)) !== undefined && !sameBrowser(req as Request, data)) emptyForCopy(data);
    return super.createSession(req, data);
  }

  /**
   * Nothing is written under an id a session was served on but no longer lives under (an old
   * connect-redis id, emptied for a copy of its cookie): the old id stays retired, and its
   * browser's late requests keep finding the way to the new one.
   */
  override set(sid: string, sess: SessionData, cb?: (err: unknown) => void): any {
    return this.legacy && servedAwayFrom(sid, sess) ? done(cb) : super.set(sid, sess, cb);
  }

  override touch(sid: string, sess: SessionData, cb?: (err: unknown) => void): any {
    return this.legacy && servedAwayFrom(sid, sess) ? done(cb) : super.touch(sid, sess, cb);
  }

  override get(sid: string, cb?: (err: unknown, value?: SessionData | null) => void): any {
    const legacy = this.legacy;
    if (!legacy) return super.get(sid, cb);
    const read = (super.get(sid) as Promise<SessionData | null>).then((found) => found ?? readLegacy(this.legacyPort, legacy, sid));
    if (!cb) return read;
    read.then(
      (sess) => cb(null, sess),
      // To express-session, then to the site's chain: an error of the package's store.
      (err) => cb(markOwn(err)),
    );
    return undefined;
  }

  /**
   * Makes every session connect-redis kept (`legacy`) the package's, indexed under its account:
   * a SCAN of its prefix a step at a time, resumed where the last run stopped
   * (legacy-sessions.ts). Resolves with what it did.
   */
  migrateLegacy(run: Omit<MigrationOptions, "cursorKey"> = {}): Promise<MigrationProgress> {
    if (!this.legacy) return Promise.resolve({ scanned: 0, moved: 0, indexed: 0, skipped: 0, done: true });
    return migrateLegacy(this.legacyPort, this.legacy, { ...run, cursorKey: `${this.prefix}legacy:cursor` });
  }

  /**
   * Ends a session that moved to a new id (legacy-move.ts): the old id leads to the new one
   * for `keepMs` (a "rotated" tombstone, written first), then to nothing.
   */
  async retireMoved(sid: string, keepMs: number): Promise<void> {
    const handle = handleOf(sid);
    await this.durable.set(this.tombstoneKey(handle), encodeEnding({ reason: "rotated", at: this.now() }), { PX: keepMs });
    this.forget([this.tombstoneKey(handle)]);
    await this.removeRecord(handle);
  }

  private get legacyPort(): LegacyStorePort {
    return {
      redis: this.redis,
      now: this.now,
      create: (sid, sess) => this.set(sid, sess) as Promise<void>,
      read: (sid) => SessionStoreCore.prototype.get.call(this, sid) as Promise<SessionData | null>,
      remove: (handle) => this.removeRecord(handle),
      endingOf: async (handle) => decodeEnding(await this.readTombstone(handle))?.reason ?? null,
      holdAdoption: async (handle, ms) => (await this.redis.set(this.adoptionKey(handle), "1", { NX: true, PX: ms })) !== null,
      releaseAdoption: async (handle) => void (await this.redis.del(this.adoptionKey(handle))),
      markAdopted: async (handle, ms) => void (await this.redis.set(this.adoptedKey(handle), "1", { PX: ms })),
      wasAdopted: async (handle) => (await this.redis.exists(this.adoptedKey(handle))) === 1,
    };
  }

  /**
   * Drops keys from this process's cache at once, after a write on another connection (the
   * one for writes that wait for replicas): Redis's invalidation for them is on its way, but
   * a read in between must not see the old record.
   */
  private forget(keys: string[]): void {
    for (const key of keys) this.cache?.invalidate(key);
  }

  /** Where sign-ins and session ends are written when they wait for replicas (replica-wait.ts). */
  private get durable(): RedisClientType {
    return durableClient(this.redis, this.replicaWait);
  }

  private sessionKey(handle: string): string {
    return `${this.prefix}${handle}`;
  }

  /** Why a session ended: "sess:x:<handle>", a few dozen bytes, for SESSION_TOMBSTONE_TTL. */
  private tombstoneKey(handle: string): string {
    return `${this.prefix}x:${handle}`;
  }

  protected async takeTombstone(handle: string): Promise<string | null> {
    if (this.unsaved.has(handle)) return null;
    return this.redis.getDel(this.tombstoneKey(handle));
  }

  protected async readTombstone(handle: string): Promise<string | null> {
    if (this.unsaved.has(handle)) return null;
    return this.redis.get(this.tombstoneKey(handle));
  }

  /** Held while a session connect-redis kept is made the package's (legacy-sessions.ts): "sess:a:<handle>", a few seconds. */
  private adoptionKey(handle: string): string {
    return `${this.prefix}a:${handle}`;
  }

  /** That a session connect-redis kept was made the package's (legacy-sessions.ts): "sess:m:<handle>", as long as connect-redis would have kept it. */
  private adoptedKey(handle: string): string {
    return `${this.prefix}m:${handle}`;
  }

  /** The names a user gave their sessions: a hash in the index's slot, expiring with it. */
  private namesKey(userId: string): string {
    return `${this.prefix}n:{${userId}}`;
  }

  protected async readNames(userId: string): Promise<Record<string, string>> {
    return { ...(await this.redis.hGetAll(this.namesKey(userId))) };
  }

  protected async writeNames(userId: string, names: Array<[string, string | null]>): Promise<void> {
    const key = this.namesKey(userId);
    const set = names.filter((n): n is [string, string] => n[1] !== null);
    const removed = names.filter((n) => n[1] === null).map(([h]) => h);
    if (removed.length > 0) await this.redis.hDel(key, removed);
    if (set.length > 0) {
      await this.redis.hSet(key, Object.fromEntries(set));
      await this.redis.pExpire(key, this.lifetime.absolute);
    }
  }

  private indexKey(userId: string): string {
    return `${this.prefix}user:{${userId}}`;
  }

  protected async readRecord(handle: string): Promise<SessionRecord | null> {
    if (this.unsaved.has(handle)) return null;
    const sent = this.sending.get(handle);
    if (sent) return sent;
    const key = this.sessionKey(handle);
    // With a cache, a read may be answered from memory. Let the pending I/O run first: an
    // invalidation Redis already pushed (another instance ended this session) is then
    // applied before the cache is asked. The push travels one hop from Redis; the browser's
    // next request, after the answer to whoever ended the session, at least two.
    if (this.cache) await afterPendingIo();
    // A stalled link answers nothing, and the cache may hold a session ended meanwhile: refuse (503).
    if (this.stallWatch.away) throw this.stallWatch.refusal();
    return parseRecord(await retryRead(() => this.redis.get(key), this.readRetryMs, this.onUnreachable));
  }

  protected async updateRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number): Promise<void> {
    // Both in one pipeline. Neither brings back an ended session: the script updates only
    // an existing record, and ZADD XX only an existing index entry.
    await Promise.all([
      writeSession.run(this.redis, this.sessionKey(handle), ["update", record.uv, record.uid, record.u, record.d, expiresAt]),
      record.uid ? this.redis.zAdd(this.indexKey(record.uid), { score: lastActiveAt, value: handle }, { condition: "XX", comparison: "GT" }) : null,
    ]);
  }

  /**
   * A visitor's session holds no response (a flash library writes one on every page): its
   * write is sent at once and not waited for, and not sent at all while Redis is known away.
   * Until Redis has answered, this process reads the session as it was sent; one that could not
   * be written is remembered, so that its cookie reads as no session, at once, rather than a
   * 503: the visitor's next page works as if nothing happened (what the site kept in it is lost
   * with the outage). A plain SET, not the script: NX creates, XX updates only a session that
   * still exists, so an ended one stays ended.
   */
  protected override async writeVisitorRecord(
    handle: string,
    record: SessionRecord,
    expiresAt: number,
    _at: number,
    _now: number,
    creating: boolean,
  ): Promise<void> {
    const lost = () => {
      if (this.sending.get(handle) === record) this.sending.delete(handle);
      this.unsaved.add(handle);
      if (this.unsaved.size > MAX_UNSAVED) this.unsaved.delete(this.unsaved.values().next().value as string);
    };
    if (this.stallWatch.away || this.unsaved.has(handle)) return lost();
    this.sending.set(handle, record);
    const value = `${record.uv}\n${record.uid}\n${record.u}\n${record.d}`;
    this.redis.set(this.sessionKey(handle), value, { expiration: { type: "PXAT", value: expiresAt }, condition: creating ? "NX" : "XX" }).then(() => {
      if (this.sending.get(handle) === record) this.sending.delete(handle);
    }, lost);
  }

  protected async createRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number, now: number, replaces?: string): Promise<void> {
    const key = this.sessionKey(handle);
    if (record.uid) {
      // Index first: a session never exists outside its user's index, so it can always be
      // listed and ended. A failure after this leaves only a dead entry, pruned on read.
      const over = (await indexSession.run(this.durable, this.indexKey(record.uid), [
        handle,
        lastActiveAt,
        now - this.lifetime.idle,
        this.maxSessionsPerUser,
        this.lifetime.absolute,
        replaces ?? "",
      ])) as string[];
      if (over.length > 0) {
        const ended = await this.removeUserRecords(record.uid, over, { reason: "cap", at: now });
        if (ended > 0) this.onEnded?.("cap", ended);
        await this.writeNames(
          record.uid,
          over.map((h) => [h, null]),
        );
      }
    }
    // A signed-in session is written, and waited for, on the connection for durable writes.
    const created = await writeSession.run(record.uid ? this.durable : this.redis, key, ["create", record.uv, record.uid, record.u, record.d, expiresAt]);
    if (created !== 1) throw new Error("session id collision");
    if (!record.uid) return;
    // Ended between the two writes ("sign out everywhere" took its index entry): end it too,
    // rather than leave a session no listing shows.
    if ((await this.durable.zScore(this.indexKey(record.uid), handle)) === null) await this.durable.del(key);
    this.forget([key, this.indexKey(record.uid)]);
    await waitForReplicas(this.durable, [key, this.indexKey(record.uid)], this.replicaWait);
  }

  protected async removeRecord(handle: string): Promise<void> {
    const key = this.sessionKey(handle);
    const uid = parseRecord(await this.durable.getDel(key))?.uid;
    this.forget([key]);
    if (!uid) return;
    await this.durable.zRem(this.indexKey(uid), handle);
    this.forget([this.indexKey(uid)]);
    await waitForReplicas(this.durable, [key, this.indexKey(uid)], this.replicaWait);
  }

  /**
   * Ends sessions first, then drops their index entries: never a live session unindexed.
   * A session being created writes its index entry before its record; if that record landed
   * between the DEL and the ZREM, the second DEL ends it (createRecord covers the other order).
   *
   * The tombstones are written before the records go: a request that finds no record always
   * finds why (a rotated id is then followed, not treated as a dead cookie). One that finds
   * the record first is served by it, so a tombstone beside a live record is never read.
   * Those of sessions that turn out to have been gone already are removed again.
   */
  protected async removeUserRecords(userId: string, handles: string[], ending?: Ending): Promise<number> {
    if (ending) {
      await Promise.all(handles.map((h) => this.durable.set(this.tombstoneKey(h), encodeEnding(ending), { PX: ending.keepMs ?? this.tombstoneTtl })));
      this.forget(handles.map((h) => this.tombstoneKey(h)));
    }
    // One DEL per key: on Cluster the sessions live in different slots.
    const deleted = await Promise.all(handles.map((h) => this.durable.del(this.sessionKey(h))));
    await this.durable.zRem(this.indexKey(userId), handles);
    const late = await Promise.all(handles.map((h) => this.durable.del(this.sessionKey(h))));
    this.forget([...handles.map((h) => this.sessionKey(h)), this.indexKey(userId)]);
    const gone = handles.filter((_, i) => deleted[i] + late[i] === 0);
    if (ending && gone.length > 0) await Promise.all(gone.map((h) => this.durable.del(this.tombstoneKey(h))));
    await waitForReplicas(this.durable, [...handles.map((h) => this.sessionKey(h)), this.indexKey(userId)], this.replicaWait);
    return [...deleted, ...late].reduce((sum, n) => sum + n, 0);
  }

  protected async readIndex(userId: string): Promise<IndexEntry[]> {
    const entries = await this.redis.zRangeWithScores(this.indexKey(userId), 0, -1);
    // One GET per key, pipelined: on Cluster the sessions live in different slots.
    const records = await Promise.all(entries.map((e) => this.redis.get(this.sessionKey(e.value))));
    return entries.map((e, i) => ({ handle: e.value, lastActiveAt: e.score, record: parseRecord(records[i]) }));
  }

  /** SCAN over the keyspace (every master of a Cluster) for this store's session keys: express-session's all/length/clear only. */
  protected async allHandles(): Promise<string[]> {
    const nodes: RedisClientType[] = isCluster(this.redis)
      ? await Promise.all(
          (this.redis as unknown as { masters: unknown[]; nodeClient(node: unknown): Promise<RedisClientType> }).masters.map((m) =>
            (this.redis as unknown as { nodeClient(node: unknown): Promise<RedisClientType> }).nodeClient(m),
          ),
        )
      : [this.redis];
    const match = `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    const handles = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await sendRaw<[string, string[]]>(node, undefined, ["SCAN", cursor, "MATCH", match, "COUNT", "1000"]);
        cursor = String(next);
        for (const key of keys) {
          const handle = key.slice(this.prefix.length);
          if (isHandle(handle)) handles.add(handle);
        }
      } while (cursor !== "0");
    }
    return [...handles];
  }

  protected indexedHandles(userId: string): Promise<string[]> {
    return this.redis.zRange(this.indexKey(userId), 0, -1);
  }

  protected async pruneIndex(userId: string, handles: string[]): Promise<void> {
    await this.redis.zRem(this.indexKey(userId), handles);
  }

  protected async writeSnapshot(handles: string[], ver: number, u: string): Promise<void> {
    await Promise.all(handles.map((h) => writeSnapshot.run(this.redis, this.sessionKey(h), [ver, u])));
  }

  async ping(): Promise<void> {
    // A Cluster client has no unkeyed PING; any node answering a keyed read will do.
    if (isCluster(this.redis)) await this.redis.exists(this.indexKey("ping"));
    else await this.redis.ping();
  }

  async close(): Promise<void> {
    // The caller owns the client and closes it.
    if (this.ownsStallWatch) this.stallWatch.stop();
  }
}

/** Visitors' unwritten sessions remembered per process, oldest forgotten first: ids nobody can guess, dead either way. */
const MAX_UNSAVED = 10_000;

let pendingIo: Promise<void> | undefined;

/**
 * Resolves once the I/O this turn of the event loop has already polled is handled (the check
 * phase). Every read that waits in the same turn shares one Immediate: under load a turn
 * carries many requests.
 */
function afterPendingIo(): Promise<void> {
  pendingIo ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      pendingIo = undefined;
      resolve();
    }),
  );
  return pendingIo;
}

/** A write done at once, with nothing written: to the callback when there is one, else as a promise. */
function done(cb?: (err: unknown) => void): Promise<void> | undefined {
  if (!cb) return Promise.resolve();
  cb(null);
  return undefined;
}

/** Whether this session was read on `sid` but lives under another id (legacy-sessions.ts). */
function servedAwayFrom(sid: string, sess: SessionData): boolean {
  const to = movedIdOfServed(peekState(sess));
  return to !== undefined && to !== sid;
}
