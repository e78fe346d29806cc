import { RedisStore } from "connect-redis";
import type { SessionData } from "express-session";
import type { RedisClientType } from "redis";
import {
  type CookieShape,
  type Lifetime,
  decode,
  encode,
  expiryOf,
  handleOf,
  infoOf,
  isActivityStale,
  parseRecord,
  settle,
  stampNew,
} from "./session-record";
import { indexSession, writeSession, writeSnapshot } from "./redis-scripts";
import { isCluster, retryRead } from "./redis-client";
import { type ReplicaWait, durableClient, waitForReplicas } from "./redis-wait";
import type { SessionInfo, SessionStore, UserSnapshot } from "./session-store";

export interface RedisSessionStoreOptions {
  /**
   * Connected by the caller, as connect-redis expects: a client of one server, or a Cluster
   * client (node-redis's createCluster) given the same type. Every command here names one key.
   */
  client: RedisClientType;
  lifetime: Lifetime;
  cookie: CookieShape;
  maxSessionsPerUser: number;
  /** Prefix of every key this store writes. */
  prefix?: string;
  /** Told of each session a listing finds gone from its user's index: it expired. */
  onExpired?: (userId: string, handle: string) => void;
  /** Wait for replicas after sign-ins and ends of sessions (REDIS_WAIT_REPLICAS). */
  replicaWait?: ReplicaWait;
  /** How long a session read is tried again while Redis is unavailable (a failover), in ms. */
  readRetryMs?: number;
}

type Callback<T = any> = (err: any, value?: T) => void;

/**
 * Key layout (prefix "sess:" by default):
 *   sess:<handle>            string "uv\nuid\nu\nd" (session-record.ts), expires with the session
 *   sess:user:{<userId>}     sorted set of the user's handles, scored by last activity
 * The braces are a Cluster hash tag: later per-user keys can share the index's slot.
 *
 * Built on connect-redis's RedisStore for its client handling and callback/promise shape;
 * every method that connect-redis implements with a plain SET or a keyspace SCAN is replaced.
 */
/** How long an index entry may wait for its record while the session is being created. */
const CREATION_GRACE_MS = 10_000;

export class RedisSessionStore extends RedisStore implements SessionStore {
  private readonly lifetime: Lifetime;
  private readonly cookie: CookieShape;
  private readonly maxSessionsPerUser: number;
  private readonly onExpired?: (userId: string, handle: string) => void;
  private readonly replicaWait?: ReplicaWait;
  private readonly readRetryMs: number;

  constructor(options: RedisSessionStoreOptions) {
    super({ client: options.client, prefix: options.prefix ?? "sess:" });
    this.lifetime = options.lifetime;
    this.cookie = options.cookie;
    this.maxSessionsPerUser = options.maxSessionsPerUser;
    this.onExpired = options.onExpired;
    this.replicaWait = options.replicaWait;
    this.readRetryMs = options.readRetryMs ?? 0;
  }

  private get redis(): RedisClientType {
    return this.client as RedisClientType;
  }

  /** Where sign-ins and session ends are written when they wait for replicas (redis-wait.ts). */
  private get durable(): RedisClientType {
    return durableClient(this.redis, this.replicaWait);
  }

  private sessionKey(handle: string): string {
    return `${this.prefix}${handle}`;
  }

  private indexKey(userId: string): string {
    return `${this.prefix}user:{${userId}}`;
  }

  override get(sid: string, cb?: Callback<SessionData | null>): any {
    return settle(this.read(handleOf(sid)), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): any {
    return settle(this.write(handleOf(sid), sess), cb);
  }

  override touch(sid: string, sess: SessionData, cb?: Callback): any {
    const now = Date.now();
    // Inside the update window a touch writes nothing: that is what keeps a signed-in
    // request at one round trip.
    if (!sess.userId || !isActivityStale(sess, this.lifetime, now)) return settle(Promise.resolve(), cb);
    sess.lastActiveAt = now;
    return settle(this.write(handleOf(sid), sess), cb);
  }

  override destroy(sid: string, cb?: Callback): any {
    return settle(this.remove(handleOf(sid)), cb);
  }

  // connect-redis answers these with a SCAN of the whole keyspace; nothing here needs them.
  override all(cb?: Callback): any {
    return settle(Promise.reject(new Error("all() is not supported: it would scan the keyspace")), cb);
  }
  override ids(cb?: Callback): any {
    return settle(Promise.reject(new Error("ids() is not supported: it would scan the keyspace")), cb);
  }
  override length(cb?: Callback): any {
    return settle(Promise.reject(new Error("length() is not supported: it would scan the keyspace")), cb);
  }
  override clear(cb?: Callback): any {
    return settle(Promise.reject(new Error("clear() is not supported: it would scan the keyspace")), cb);
  }

  private async read(handle: string): Promise<SessionData | null> {
    const key = this.sessionKey(handle);
    const raw = await retryRead(() => this.redis.get(key), this.readRetryMs);
    return decode(parseRecord(raw), this.cookie, this.lifetime, Date.now());
  }

  private async write(handle: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const creating = stampNew(sess, now);
    if (!sess.userId) sess.lastActiveAt = now; // a visitor's session slides with each write
    const expiresAt = expiryOf(sess, this.lifetime, now);
    if (expiresAt <= now) return this.remove(handle);
    const record = encode(sess);
    const args = [record.uv, record.uid, record.u, record.d, expiresAt];
    const key = this.sessionKey(handle);

    if (!creating) {
      // Both in one pipeline. Neither brings back an ended session: the script updates only
      // an existing record, and ZADD XX only an existing index entry.
      await Promise.all([
        writeSession.run(this.redis, key, ["update", ...args]),
        record.uid
          ? this.redis.zAdd(this.indexKey(record.uid), { score: sess.lastActiveAt ?? now, value: handle }, { condition: "XX", comparison: "GT" })
          : null,
      ]);
      return;
    }
    if (record.uid) {
      // Index first: a session never exists outside its user's index, so it can always be
      // listed and ended. A failure after this leaves only a dead entry, pruned on read.
      const indexKey = this.indexKey(record.uid);
      const over = (await indexSession.run(this.durable, indexKey, [
        handle,
        sess.lastActiveAt ?? now,
        now - this.lifetime.idle,
        this.maxSessionsPerUser,
        this.lifetime.absolute,
      ])) as string[];
      if (over.length > 0) await this.removeFromUser(record.uid, over);
    }
    // A signed-in session is written, and waited for, on the connection for durable writes.
    const created = await writeSession.run(record.uid ? this.durable : this.redis, key, ["create", ...args]);
    if (created !== 1) throw new Error("session id collision");
    if (!record.uid) return;
    // Ended between the two writes ("sign out everywhere" took its index entry): end it too,
    // rather than leave a session no listing shows.
    if ((await this.durable.zScore(this.indexKey(record.uid), handle)) === null) await this.durable.del(key);
    await waitForReplicas(this.durable, [key, this.indexKey(record.uid)], this.replicaWait);
  }

  private async remove(handle: string): Promise<void> {
    const key = this.sessionKey(handle);
    const uid = parseRecord(await this.durable.getDel(key))?.uid;
    if (!uid) return;
    await this.durable.zRem(this.indexKey(uid), handle);
    await waitForReplicas(this.durable, [key, this.indexKey(uid)], this.replicaWait);
  }

  /**
   * Ends sessions first, then drops their index entries: never a live session unindexed.
   * A session being created writes its index entry before its record; if that record landed
   * between the DEL and the ZREM, the second DEL ends it (write() covers the other order).
   */
  private async removeFromUser(userId: string, handles: string[]): Promise<number> {
    if (handles.length === 0) return 0;
    // One DEL per key: on Cluster the sessions live in different slots.
    const deleted = await Promise.all(handles.map((h) => this.durable.del(this.sessionKey(h))));
    await this.durable.zRem(this.indexKey(userId), handles);
    const late = await Promise.all(handles.map((h) => this.durable.del(this.sessionKey(h))));
    late.forEach((n, i) => (deleted[i] += n));
    await waitForReplicas(this.durable, [...handles.map((h) => this.sessionKey(h)), this.indexKey(userId)], this.replicaWait);
    return deleted.reduce((sum, n) => sum + n, 0);
  }

  private async userHandles(userId: string): Promise<string[]> {
    return this.redis.zRange(this.indexKey(userId), 0, -1, { REV: true });
  }

  async listUserSessions(userId: string): Promise<SessionInfo[]> {
    const entries = await this.redis.zRangeWithScores(this.indexKey(userId), 0, -1, { REV: true });
    if (entries.length === 0) return [];
    const handles = entries.map((e) => e.value);
    // One GET per key, pipelined: on Cluster the sessions live in different slots.
    const records = await Promise.all(handles.map((h) => this.redis.get(this.sessionKey(h))));
    const now = Date.now();
    const live: SessionInfo[] = [];
    const dead: string[] = [];
    records.forEach((raw, i) => {
      const sess = decode(parseRecord(raw), this.cookie, this.lifetime, now);
      if (sess && sess.userId === userId) live.push(infoOf(handles[i], sess, this.lifetime, now));
      // A fresh entry without its record is a session being created (index first): not dead.
      else if (raw !== null || entries[i].score <= now - Math.min(CREATION_GRACE_MS, this.lifetime.idle)) dead.push(handles[i]);
    });
    if (dead.length > 0) {
      await this.redis.zRem(this.indexKey(userId), dead);
      for (const handle of dead) this.onExpired?.(userId, handle);
    }
    return live.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
  }

  async revokeUserSession(userId: string, handle: string): Promise<boolean> {
    const score = await this.redis.zScore(this.indexKey(userId), handle);
    if (score === null) return false;
    return (await this.removeFromUser(userId, [handle])) === 1;
  }

  async revokeUserSessions(userId: string, exceptHandle?: string): Promise<number> {
    const handles = (await this.userHandles(userId)).filter((h) => h !== exceptHandle);
    return this.removeFromUser(userId, handles);
  }

  async updateUserSnapshot(userId: string, snapshot: UserSnapshot): Promise<void> {
    const handles = await this.userHandles(userId);
    const u = JSON.stringify(snapshot);
    await Promise.all(handles.map((h) => writeSnapshot.run(this.redis, this.sessionKey(h), [snapshot.ver, u])));
  }

  async ping(): Promise<void> {
    // A Cluster client has no unkeyed PING; any node answering a keyed read will do.
    if (isCluster(this.redis)) await this.redis.exists(this.indexKey("ping"));
    else await this.redis.ping();
  }

  async close(): Promise<void> {
    // The caller owns the client and closes it.
  }
}
