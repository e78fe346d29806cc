import { Store, type SessionData } from "express-session";
import {
  type CookieShape,
  type Lifetime,
  type SessionRecord,
  decode,
  encode,
  expiryOf,
  handleOf,
  infoOf,
  isActivityStale,
  settle,
  stampNew,
} from "./session-record";
import type { SessionInfo, SessionStore, UserSnapshot } from "./session-store";

export interface EmbeddedSessionStoreOptions {
  lifetime: Lifetime;
  cookie: CookieShape;
  maxSessionsPerUser: number;
  /** The most sessions held in memory; past it the least recently written one is dropped. */
  maxSessions: number;
  /** How often expired records are swept out; they are never returned in any case. */
  sweepIntervalMs?: number;
  /** Told of each session a listing finds gone from its user's index: it expired. */
  onExpired?: (userId: string, handle: string) => void;
}

type Callback<T = any> = (err: any, value?: T) => void;
type Entry = SessionRecord & { expiresAt: number };

/**
 * The store for a single process with no Redis: same records, same rules, same contract
 * suite as the Redis store. Bounded and expiring, unlike express-session's MemoryStore.
 */
export class EmbeddedSessionStore extends Store implements SessionStore {
  /** In order of last write, so the first entry is the one to drop when full. */
  private readonly records = new Map<string, Entry>();
  /** userId -> handle -> last activity (ms). */
  private readonly index = new Map<string, Map<string, number>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: EmbeddedSessionStoreOptions) {
    super();
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  override get(sid: string, cb?: Callback<SessionData | null>): any {
    return settle(Promise.resolve(this.read(handleOf(sid))), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): any {
    return settle(this.run(() => this.write(handleOf(sid), sess)), cb);
  }

  override touch(sid: string, sess: SessionData, cb?: Callback): any {
    const now = Date.now();
    if (sess.userId && isActivityStale(sess, this.options.lifetime, now)) {
      sess.lastActiveAt = now;
      return this.set(sid, sess, cb);
    }
    return settle(Promise.resolve(), cb);
  }

  override destroy(sid: string, cb?: Callback): any {
    return settle(this.run(() => this.remove(handleOf(sid))), cb);
  }

  private run(work: () => void): Promise<void> {
    try {
      work();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private live(handle: string, now: number): Entry | undefined {
    const entry = this.records.get(handle);
    if (entry && entry.expiresAt <= now) {
      this.remove(handle, true);
      return undefined;
    }
    return entry;
  }

  private read(handle: string): SessionData | null {
    const now = Date.now();
    const entry = this.live(handle, now);
    return entry ? decode(entry, this.options.cookie, this.options.lifetime, now) : null;
  }

  private write(handle: string, sess: SessionData): void {
    const now = Date.now();
    const creating = stampNew(sess, now);
    if (!sess.userId) sess.lastActiveAt = now;
    const expiresAt = expiryOf(sess, this.options.lifetime, now);
    if (expiresAt <= now) return this.remove(handle);
    const record = encode(sess);
    const existing = this.live(handle, now);

    if (!creating) {
      // A session ended meanwhile stays ended; an older account snapshot never wins.
      if (!existing) return;
      const newer = record.uv > existing.uv;
      this.put(handle, { ...existing, d: record.d, u: newer ? record.u : existing.u, uv: newer ? record.uv : existing.uv, expiresAt });
      if (record.uid) this.index.get(record.uid)?.set(handle, Math.max(sess.lastActiveAt ?? now, this.index.get(record.uid)?.get(handle) ?? 0));
      return;
    }
    if (existing) throw new Error("session id collision");
    if (record.uid) {
      const sessions = this.index.get(record.uid) ?? new Map<string, number>();
      this.index.set(record.uid, sessions);
      for (const [h, lastActive] of sessions) if (lastActive < now - this.options.lifetime.idle) sessions.delete(h);
      sessions.set(handle, sess.lastActiveAt ?? now);
      const over = sessions.size - this.options.maxSessionsPerUser;
      if (over > 0) {
        const oldest = [...sessions].sort((a, b) => a[1] - b[1]).slice(0, over);
        for (const [h] of oldest) this.remove(h);
      }
    }
    this.put(handle, { ...record, expiresAt });
  }

  private put(handle: string, entry: Entry): void {
    this.records.delete(handle); // re-insert: the map's order is the order of last write
    this.records.set(handle, entry);
    while (this.records.size > this.options.maxSessions) {
      const first = this.records.keys().next().value as string;
      this.remove(first);
    }
  }

  private remove(handle: string, expired = false): void {
    const entry = this.records.get(handle);
    this.records.delete(handle);
    if (!entry?.uid) return;
    if (expired) this.options.onExpired?.(entry.uid, handle);
    const sessions = this.index.get(entry.uid);
    sessions?.delete(handle);
    if (sessions?.size === 0) this.index.delete(entry.uid);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [handle, entry] of this.records) if (entry.expiresAt <= now) this.remove(handle, true);
  }

  async listUserSessions(userId: string): Promise<SessionInfo[]> {
    const now = Date.now();
    const rows: SessionInfo[] = [];
    for (const handle of [...(this.index.get(userId)?.keys() ?? [])]) {
      const sess = this.read(handle);
      if (sess && sess.userId === userId) rows.push(infoOf(handle, sess, this.options.lifetime, now));
      else this.index.get(userId)?.delete(handle);
    }
    return rows.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
  }

  async revokeUserSession(userId: string, handle: string): Promise<boolean> {
    if (!this.index.get(userId)?.has(handle)) return false;
    const existed = this.live(handle, Date.now()) !== undefined;
    this.remove(handle);
    return existed;
  }

  async revokeUserSessions(userId: string, exceptHandle?: string): Promise<number> {
    const handles = [...(this.index.get(userId)?.keys() ?? [])].filter((h) => h !== exceptHandle);
    let ended = 0;
    for (const handle of handles) if (await this.revokeUserSession(userId, handle)) ended++;
    return ended;
  }

  async updateUserSnapshot(userId: string, snapshot: UserSnapshot): Promise<void> {
    const u = JSON.stringify(snapshot);
    for (const handle of this.index.get(userId)?.keys() ?? []) {
      const entry = this.records.get(handle);
      if (entry && snapshot.ver > entry.uv) {
        entry.u = u;
        entry.uv = snapshot.ver;
      }
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** How many records are held (for tests and the bound). */
  get size(): number {
    return this.records.size;
  }
}
