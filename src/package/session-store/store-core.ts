import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type SessionData, Store } from "express-session";
import { markOwn } from "../own-errors";
import type { UserSnapshot } from "../users/account";
import {
  type CookieShape,
  decode,
  decodeEnding,
  encode,
  encodeSnapshot,
  expiryOf,
  handleOf,
  infoOf,
  isActivityStale,
  type Lifetime,
  markWritten,
  type SessionRecord,
  stampNew,
  stateChanged,
} from "./session-record";
import { attachState, type Ending, peekState, replacedBy, type SessionInfo, type SessionStore, stateOf } from "./session-store";

export interface StoreRules {
  lifetime: Lifetime;
  cookie: CookieShape;
  maxSessionsPerUser: number;
  /** Told of each session a listing finds gone from its user's index: it expired. */
  onExpired?: (userId: string, handle: string) => void;
  /** The clock (ms since the epoch); tests pass one they can move. */
  now?: () => number;
  /** How long a tombstone says why its session ended (ms); 7 days when not given. */
  tombstoneTtl?: number;
  /**
   * Keep the cookie a session arrives with (a site's own session middleware: its domain, its
   * "remember me" maxAge), as connect-redis does, rather than build it from `cookie`.
   */
  keepCookie?: boolean;
  /** Told of sessions ended with a reason, and how many (for metrics). */
  onEnded?: (reason: Ending["reason"], count: number) => void;
  /**
   * Signs the keys all() gives, so that destroy() knows one from a session id (a strong
   * secret); a key of this store's own when not given.
   */
  keySecret?: string;
  /** Told how long each operation took, and whether it failed (for metrics). */
  observe?: (operation: "read" | "write" | "end" | "list", seconds: number, failed: boolean) => void;
}

/** One entry of a user's index, with the record the backend holds for it (null: none). */
export interface IndexEntry {
  handle: string;
  lastActiveAt: number;
  record: SessionRecord | null;
}

type Callback<T = unknown> = (err: unknown, value?: T) => void;

/** How long an index entry may wait for its record while the session is being created. */
const CREATION_GRACE_MS = 10_000;

/**
 * What every session store shares: express-session's callback shape, the record rules
 * (session-record.ts) and the touch rule. A backend implements only the primitives below,
 * on records keyed by handle and a per-user index of handles scored by last activity.
 */
export abstract class SessionStoreCore extends Store implements SessionStore {
  protected readonly lifetime: Lifetime;
  protected readonly cookie: CookieShape;
  protected readonly maxSessionsPerUser: number;
  protected readonly now: () => number;
  protected readonly tombstoneTtl: number;
  protected readonly keepCookie: boolean;
  protected readonly onExpired?: (userId: string, handle: string) => void;
  protected readonly onEnded?: (reason: Ending["reason"], count: number) => void;
  private readonly observe?: StoreRules["observe"];
  private readonly keyMac: Buffer;

  constructor(rules: StoreRules) {
    super();
    this.lifetime = rules.lifetime;
    this.cookie = rules.cookie;
    this.maxSessionsPerUser = rules.maxSessionsPerUser;
    this.onExpired = rules.onExpired;
    this.onEnded = rules.onEnded;
    this.observe = rules.observe;
    this.now = rules.now ?? Date.now;
    this.tombstoneTtl = rules.tombstoneTtl ?? 7 * 24 * 3600 * 1000;
    this.keepCookie = rules.keepCookie === true;
    this.keyMac = createHmac("sha256", rules.keySecret ?? randomBytes(32))
      .update("store-key")
      .digest();
  }

  /** The record, or null. It may be past its expiry: decode() refuses those. */
  protected abstract readRecord(handle: string): Promise<SessionRecord | null>;
  /**
   * Creates the record, and for a signed-in session its index entry; ends the user's least
   * recently active sessions beyond maxSessionsPerUser, counting the session it `replaces`
   * (its previous id, still indexed) as this one and never ending it. Throws when the record exists.
   */
  protected abstract createRecord(
    handle: string,
    record: SessionRecord,
    expiresAt: number,
    lastActiveAt: number,
    now: number,
    replaces?: string,
  ): Promise<void>;
  /** A visitor's session (no account): written as any other, unless the backend holds no response for it (redis-session-store.ts). */
  protected writeVisitorRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number, now: number, creating: boolean): Promise<void> {
    return creating ? this.createRecord(handle, record, expiresAt, lastActiveAt, now) : this.updateRecord(handle, record, expiresAt, lastActiveAt);
  }
  /**
   * Updates the record only if it still exists (a session ended meanwhile stays ended), its
   * account snapshot only with a newer one, and its index entry's last activity.
   */
  protected abstract updateRecord(handle: string, record: SessionRecord, expiresAt: number, lastActiveAt: number): Promise<void>;
  /** Ends one session: its record, then its index entry. */
  protected abstract removeRecord(handle: string): Promise<void>;
  /** The user's index, with each entry's record. */
  protected abstract readIndex(userId: string): Promise<IndexEntry[]>;
  /** The handles in the user's index. */
  protected abstract indexedHandles(userId: string): Promise<string[]>;
  /** Ends these sessions of the user, leaving a tombstone for each that existed when `ending` says why; returns how many existed. */
  protected abstract removeUserRecords(userId: string, handles: string[], ending?: Ending): Promise<number>;
  /** The tombstone under this handle, removed as it is read. */
  protected abstract takeTombstone(handle: string): Promise<string | null>;
  /** The tombstone under this handle, left in place. */
  protected abstract readTombstone(handle: string): Promise<string | null>;
  /** Drops index entries whose sessions are gone. */
  protected abstract pruneIndex(userId: string, handles: string[]): Promise<void>;
  /** The names the user gave their sessions, by handle. */
  protected abstract readNames(userId: string): Promise<Record<string, string>>;
  /** Sets (or, with null, removes) the names of these sessions. */
  protected abstract writeNames(userId: string, names: Array<[string, string | null]>): Promise<void>;
  /** Every session's handle, live or not: a walk over the whole store, for express-session's all/length/clear only. */
  protected abstract allHandles(): Promise<string[]>;
  /** Puts the account snapshot (encoded, at version `ver`) into each session that holds an older one. */
  protected abstract writeSnapshot(handles: string[], ver: number, u: string): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  /** Times an operation for `observe`, when there is one; otherwise the work as it is. */
  private timed<T>(operation: "read" | "write" | "end" | "list", work: Promise<T>): Promise<T> {
    const observe = this.observe;
    if (!observe) return work;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    return work.then(
      (value) => {
        observe(operation, seconds(), false);
        return value;
      },
      (err) => {
        observe(operation, seconds(), true);
        throw err;
      },
    );
  }

  override get(sid: string, cb?: Callback<SessionData | null>): any {
    const read = this.readRecord(handleOf(sid)).then((record) => decode(record, this.cookie, this.lifetime, this.now(), this.keepCookie));
    return settle(this.timed("read", read), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): any {
    return settle(this.timed("write", this.write(handleOf(sid), sess)), cb);
  }

  /**
   * express-session calls touch at the end of a request that left the site's part of the
   * session unchanged. The package's state beside it may have changed (a refreshed account,
   * a dismissed notice): then it is written. Otherwise, inside the update window a touch
   * writes nothing: that is what keeps a signed-in request at no round trip.
   */
  override touch(sid: string, sess: SessionData, cb?: Callback): any {
    const now = this.now();
    const state = peekState(sess);
    // A site's own visitor session (a cart) slides too; the package's visitor sessions do not.
    const slides = (state?.userId !== undefined || this.keepCookie) && isActivityStale(state, this.lifetime, now);
    if (!slides && !(state && stateChanged(state))) {
      // Answered at once, not on a later tick: express-session then ends the response in one
      // write; an answer that comes later makes it send all but the last byte first, then the
      // last byte, two socket writes and a copy of the page per request.
      if (!cb) return Promise.resolve();
      cb(null);
      return undefined;
    }
    if (slides) stateOf(sess).lastActiveAt = now;
    return settle(this.timed("write", this.write(handleOf(sid), sess)), cb);
  }

  /** A session express-session read from this store: the package's state goes beside it. */
  override createSession(req: Parameters<Store["createSession"]>[0], data: SessionData): ReturnType<Store["createSession"]> {
    const state = peekState(data);
    const sess = super.createSession(req, data);
    if (state) attachState(sess, state);
    return sess;
  }

  /**
   * express-session sets its own `generate` on the store it is given. Every session it makes
   * gets an empty state beside it, so the store knows a new session from one it read.
   */
  set generate(make: (req: Parameters<Store["createSession"]>[0]) => void) {
    this.makeSession = (req) => {
      make(req);
      attachState(req.session, {});
    };
  }

  get generate(): (req: Parameters<Store["createSession"]>[0]) => void {
    return this.makeSession;
  }

  private makeSession: (req: Parameters<Store["createSession"]>[0]) => void = () => {
    throw new Error("this store makes sessions through express-session: pass it to session({ store })");
  };

  /** Ends the session of this id, or of a key all() gave. */
  override destroy(sid: string, cb?: Callback): any {
    return settle(this.timed("end", this.removeRecord(this.handleOfKey(sid) ?? handleOf(sid))), cb);
  }

  /**
   * express-session's optional methods, as MemoryStore and connect-redis have them: every live
   * session, how many, and an end to all of them. Each walks the whole store (SCAN on Redis);
   * the package itself never calls them. The store keeps no raw id, so all() keys each session
   * by its handle and a MAC of it ("handle.mac"), which destroy() takes: a site's own "sign
   * this user out everywhere" on all() and destroy() ends what it lists. The MAC keeps a cookie
   * from naming another session's handle as its id: whoever signs a cookie for an id cannot
   * make destroy() end another session with it.
   */
  override all(cb?: Callback<Record<string, SessionData>>): any {
    return settle(
      this.liveSessions().then((live) => Object.fromEntries(live.map(([handle, sess]) => [this.keyOf(handle), sess]))),
      cb,
    );
  }

  private macOf(handle: string): Buffer {
    return createHmac("sha256", this.keyMac).update(handle).digest().subarray(0, 16);
  }

  private keyOf(handle: string): string {
    return `${handle}.${this.macOf(handle).toString("base64url")}`;
  }

  /** The handle of a key all() gave, or null for anything else (a session id). */
  private handleOfKey(key: string): string | null {
    const m = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/.exec(key);
    if (!m) return null;
    const given = Buffer.from(m[2], "base64url");
    return given.length === 16 && timingSafeEqual(given, this.macOf(m[1])) ? m[1] : null;
  }

  override length(cb?: Callback<number>): any {
    return settle(
      this.liveSessions().then((live) => live.length),
      cb,
    );
  }

  override clear(cb?: Callback): any {
    return settle(
      this.allHandles().then(async (handles) => {
        for (const handle of handles) await this.removeRecord(handle);
      }),
      cb,
    );
  }

  private async liveSessions(): Promise<Array<[string, SessionData]>> {
    const live: Array<[string, SessionData]> = [];
    for (const handle of await this.allHandles()) {
      const sess = decode(await this.readRecord(handle), this.cookie, this.lifetime, this.now(), this.keepCookie);
      if (sess) live.push([handle, sess]);
    }
    return live;
  }

  private async write(handle: string, sess: SessionData): Promise<void> {
    const now = this.now();
    let state = peekState(sess);
    if (!state) {
      // A session object neither this store nor express-session's generate made (a direct
      // set, as MemoryStore takes): the state it keeps stays, or it is created as a visitor's.
      state = peekState(decode(await this.readRecord(handle), this.cookie, this.lifetime, now, this.keepCookie)) ?? {};
      attachState(sess, state);
    }
    const creating = stampNew(state, now);
    if (!state.userId) state.lastActiveAt = now; // a visitor's session slides with each write
    const expiresAt = expiryOf(state, this.lifetime, now, this.keepCookie ? cookieExpiry(sess) : undefined);
    if (expiresAt <= now) return this.removeRecord(handle);
    const record = encode(sess, state, this.keepCookie);
    const lastActiveAt = state.lastActiveAt ?? now;
    // A visitor's session; one moved from connect-redis is not (its old key goes once it is written).
    if (!state.userId && !state.fromLegacy) await this.writeVisitorRecord(handle, record, expiresAt, lastActiveAt, now, creating);
    else if (creating) await this.createRecord(handle, record, expiresAt, lastActiveAt, now, replacedBy(state));
    else await this.updateRecord(handle, record, expiresAt, lastActiveAt);
    markWritten(state);
  }

  listUserSessions(userId: string): Promise<SessionInfo[]> {
    return this.timed("list", this.list(userId));
  }

  private async list(userId: string): Promise<SessionInfo[]> {
    const [entries, names] = await Promise.all([this.readIndex(userId), this.readNames(userId)]);
    const now = this.now();
    const live: SessionInfo[] = [];
    const dead: string[] = [];
    for (const { handle, lastActiveAt, record } of entries) {
      const state = peekState(decode(record, this.cookie, this.lifetime, now, this.keepCookie));
      if (state && state.userId === userId)
        live.push(names[handle] ? { ...infoOf(handle, state, this.lifetime, now), name: names[handle] } : infoOf(handle, state, this.lifetime, now));
      // A fresh entry without its record is a session being created (index first): not dead.
      else if (record !== null || lastActiveAt <= now - Math.min(CREATION_GRACE_MS, this.lifetime.idle)) dead.push(handle);
    }
    if (dead.length > 0) {
      await this.pruneIndex(userId, dead);
      const named = dead.filter((h) => names[h] !== undefined);
      if (named.length > 0)
        await this.writeNames(
          userId,
          named.map((h) => [h, null]),
        );
      for (const handle of dead) this.onExpired?.(userId, handle);
    }
    return live.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
  }

  async endUserSession(userId: string, handle: string, ending?: Ending): Promise<boolean> {
    if (!(await this.indexedHandles(userId)).includes(handle)) return false;
    const ended = (await this.timed("end", this.removeUserRecords(userId, [handle], ending))) === 1;
    await this.writeNames(userId, [[handle, null]]);
    if (ended && ending) this.onEnded?.(ending.reason, 1);
    return ended;
  }

  async endUserSessions(userId: string, exceptHandle?: string, ending?: Ending): Promise<number> {
    const handles = (await this.indexedHandles(userId)).filter((h) => h !== exceptHandle);
    if (handles.length === 0) return 0;
    const ended = await this.timed("end", this.removeUserRecords(userId, handles, ending));
    await this.writeNames(
      userId,
      handles.map((h) => [h, null]),
    );
    if (ended > 0 && ending) this.onEnded?.(ending.reason, ended);
    return ended;
  }

  async userSessionName(userId: string, handle: string): Promise<string | null> {
    return (await this.readNames(userId))[handle] ?? null;
  }

  async nameUserSession(userId: string, handle: string, name: string | null): Promise<boolean> {
    if (!(await this.indexedHandles(userId)).includes(handle)) return false;
    await this.writeNames(userId, [[handle, name]]);
    return true;
  }

  async takeEnding(handle: string): Promise<Ending | null> {
    return decodeEnding(await this.takeTombstone(handle));
  }

  async peekEnding(handle: string): Promise<Ending | null> {
    return decodeEnding(await this.readTombstone(handle));
  }

  async updateUserSnapshot(userId: string, snapshot: UserSnapshot): Promise<void> {
    const handles = await this.indexedHandles(userId);
    if (handles.length > 0) await this.writeSnapshot(handles, snapshot.ver, encodeSnapshot(snapshot));
  }
}

/** When the site's cookie for this session expires (ms), or null when it ends with the browser. */
function cookieExpiry(sess: SessionData): number | null {
  const expires = sess.cookie?.expires;
  if (!expires) return null;
  const at = new Date(expires).getTime();
  return Number.isNaN(at) ? null : at;
}

/**
 * Promise for tests and the product, callback for express-session (as connect-redis does).
 * The callback runs outside the promise: what it throws is thrown, not swallowed as a
 * rejection nobody handles.
 */
function settle<T>(work: Promise<T>, cb?: (err: unknown, value?: T) => void): Promise<T> | undefined {
  if (!cb) return work;
  work.then(
    (value) => queueMicrotask(() => cb(null, value)),
    // To express-session, then to the site's chain: an error of the package's store.
    (err) => queueMicrotask(() => cb(markOwn(err))),
  );
  return undefined;
}
