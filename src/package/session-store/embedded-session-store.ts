import { encodeEnding, type SessionRecord } from "./session-record";
import type { Ending } from "./session-store";
import { type IndexEntry, SessionStoreCore, type StoreRules } from "./store-core";

export interface EmbeddedSessionStoreOptions extends StoreRules {
  /** The most sessions held in memory; past it the least recently written one is dropped. */
  maxSessions: number;
  /** How often expired records are swept out; they are never returned in any case. */
  sweepIntervalMs?: number;
}

type Entry = SessionRecord & { expiresAt: number };

/**
 * The store for a single process with no Redis: the same core, the same records and the same
 * contract suite as the Redis store. Bounded and expiring, unlike express-session's MemoryStore.
 */
export class EmbeddedSessionStore extends SessionStoreCore {
  /** In order of last write, so the first entry is the one to drop when full. */
  private readonly records = new Map<string, Entry>();
  /** userId -> handle -> last activity (ms). */
  private readonly index = new Map<string, Map<string, number>>();
  private readonly maxSessions: number;
  /** userId -> handle -> the name its owner gave it. */
  private readonly names = new Map<string, Map<string, string>>();
  /** handle -> why it ended, and until when that is kept. */
  private readonly tombstones = new Map<string, { ending: string; until: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: EmbeddedSessionStoreOptions) {
    super(options);
    this.maxSessions = options.maxSessions;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  protected async readRecord(handle: string): Promise<SessionRecord | null> {
    return this.records.get(handle) ?? null;
  }

  protected async createRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number, now: number, replaces?: string): Promise<void> {
    const existing = this.records.get(handle);
    if (existing && existing.expiresAt > now) throw new Error("session id collision");
    if (record.uid) {
      const sessions = this.index.get(record.uid) ?? new Map<string, number>();
      this.index.set(record.uid, sessions);
      for (const [h, lastActive] of sessions) if (lastActive < now - this.lifetime.idle) sessions.delete(h);
      sessions.set(handle, lastActiveAt);
      const replaced = replaces !== undefined && sessions.has(replaces);
      const over = sessions.size - (replaced ? 1 : 0) - this.maxSessionsPerUser;
      if (over > 0) {
        for (const [h] of [...sessions]
          .filter(([h]) => h !== replaces)
          .sort((a, b) => a[1] - b[1])
          .slice(0, over)) {
          this.drop(h);
          this.bury(h, { reason: "cap", at: now });
          this.onEnded?.("cap", 1);
        }
      }
    }
    this.put(handle, { ...record, expiresAt });
  }

  protected async updateRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number): Promise<void> {
    const existing = this.records.get(handle);
    if (!existing || existing.expiresAt <= this.now()) return;
    const newer = record.uv > existing.uv;
    this.put(handle, { ...existing, d: record.d, u: newer ? record.u : existing.u, uv: newer ? record.uv : existing.uv, expiresAt });
    const sessions = record.uid ? this.index.get(record.uid) : undefined;
    const indexed = sessions?.get(handle);
    if (sessions && indexed !== undefined) sessions.set(handle, Math.max(lastActiveAt, indexed));
  }

  protected async allHandles(): Promise<string[]> {
    return [...this.records.keys()];
  }

  protected async removeRecord(handle: string): Promise<void> {
    this.drop(handle);
  }

  protected async readIndex(userId: string): Promise<IndexEntry[]> {
    return [...(this.index.get(userId) ?? [])].map(([handle, lastActiveAt]) => ({ handle, lastActiveAt, record: this.records.get(handle) ?? null }));
  }

  protected async indexedHandles(userId: string): Promise<string[]> {
    return [...(this.index.get(userId)?.keys() ?? [])];
  }

  protected async removeUserRecords(userId: string, handles: string[], ending?: Ending): Promise<number> {
    let ended = 0;
    for (const handle of handles) {
      const entry = this.records.get(handle);
      if (entry?.uid !== userId) continue;
      const live = entry.expiresAt > this.now();
      this.drop(handle);
      if (!live) continue;
      ended++;
      if (ending) this.bury(handle, ending);
    }
    return ended;
  }

  /** Keeps why the session ended, bounded like the records (the oldest goes first). */
  private bury(handle: string, ending: Ending): void {
    this.tombstones.set(handle, { ending: encodeEnding(ending), until: this.now() + (ending.keepMs ?? this.tombstoneTtl) });
    while (this.tombstones.size > this.maxSessions) this.tombstones.delete(this.tombstones.keys().next().value as string);
  }

  protected async takeTombstone(handle: string): Promise<string | null> {
    const stone = this.tombstones.get(handle);
    this.tombstones.delete(handle);
    return stone && stone.until > this.now() ? stone.ending : null;
  }

  protected async readTombstone(handle: string): Promise<string | null> {
    const stone = this.tombstones.get(handle);
    return stone && stone.until > this.now() ? stone.ending : null;
  }

  protected async pruneIndex(userId: string, handles: string[]): Promise<void> {
    for (const handle of handles) {
      if (this.records.get(handle)?.uid === userId) this.drop(handle);
      else this.index.get(userId)?.delete(handle);
    }
  }

  protected async readNames(userId: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.names.get(userId) ?? []);
  }

  protected async writeNames(userId: string, names: Array<[string, string | null]>): Promise<void> {
    const mine = this.names.get(userId) ?? new Map<string, string>();
    for (const [handle, name] of names) {
      if (name === null) mine.delete(handle);
      else if (this.index.get(userId)?.has(handle)) mine.set(handle, name);
    }
    if (mine.size > 0) this.names.set(userId, mine);
    else this.names.delete(userId);
  }

  protected async writeSnapshot(handles: string[], ver: number, u: string): Promise<void> {
    for (const handle of handles) {
      const entry = this.records.get(handle);
      if (entry && ver > entry.uv) Object.assign(entry, { u, uv: ver });
    }
  }

  private put(handle: string, entry: Entry): void {
    this.records.delete(handle); // re-insert: the map's order is the order of last write
    this.records.set(handle, entry);
    while (this.records.size > this.maxSessions) this.drop(this.records.keys().next().value as string);
  }

  /** Removes the record and its index entry. */
  private drop(handle: string): void {
    const entry = this.records.get(handle);
    this.records.delete(handle);
    if (!entry?.uid) return;
    const sessions = this.index.get(entry.uid);
    sessions?.delete(handle);
    if (sessions?.size === 0) this.index.delete(entry.uid);
    this.names.get(entry.uid)?.delete(handle);
  }

  /** Expired records a listing has not found yet (it prunes and tells of those it finds). */
  private sweep(): void {
    const now = this.now();
    for (const [handle, stone] of this.tombstones) if (stone.until <= now) this.tombstones.delete(handle);
    for (const [handle, entry] of this.records) {
      if (entry.expiresAt > now) continue;
      this.drop(handle);
      if (entry.uid) this.onExpired?.(entry.uid, handle);
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
