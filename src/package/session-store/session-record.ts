import { createHash } from "node:crypto";
import type { SessionData } from "express-session";
import type { UserSnapshot } from "../users/account";
import { attachState, type Ending, type SessionInfo, type SessionState } from "./session-store";

/**
 * How a session is laid out at rest, shared by both stores so they cannot drift apart.
 *
 * A record has four parts:
 *   uv   the account snapshot's version;
 *   uid  the user id, empty for a visitor who has not signed in; never changes;
 *   u    the account snapshot as JSON, owned by the server: a request's write never replaces
 *        it with an older one (uv orders them);
 *   d    the session's data as JSON: the site's keys as they are, the package's state (short
 *        names, without the snapshot and the user id) under "~" (a site key of that name would
 *        be lost), and the cookie only when the store keeps the site's (otherwise it is rebuilt
 *        from configuration on read).
 * Redis keeps them as one string, "uv\nuid\nu\nd" (JSON never holds a raw newline): a
 * string stays compact where a hash with a value over 64 bytes would not (docs/storage.md).
 */
export interface SessionRecord {
  uv: number;
  uid: string;
  u: string;
  d: string;
}

export function parseRecord(raw: string | null | undefined): SessionRecord | null {
  if (!raw) return null;
  const a = raw.indexOf("\n");
  const b = raw.indexOf("\n", a + 1);
  const c = raw.indexOf("\n", b + 1);
  if (a < 0 || b < 0 || c < 0) return null;
  return { uv: Number(raw.slice(0, a)), uid: raw.slice(a + 1, b), u: raw.slice(b + 1, c), d: raw.slice(c + 1) };
}

export interface Lifetime {
  /** All in milliseconds. */
  idle: number;
  /** The idle timeout of a session signed in without "remember me" (its cookie ends with the browser). */
  browserIdle: number;
  absolute: number;
  /** How long a visitor's session (a CSRF token for the sign-in form) lives without use. */
  anonymous: number;
  /** At most one write of last-active and expiry per session this often. */
  updateAge: number;
}

export interface CookieShape {
  httpOnly: boolean;
  path: string;
  sameSite: "lax" | "strict";
  secure: boolean;
}

/** Bits of SHA-256 kept in the handle: 22 base64url characters, 132 bits. */
const HANDLE_LENGTH = 22;

/** The public handle of a session: what keys, pages, forms and logs use instead of the id. */
export function handleOf(sid: string): string {
  let handle = recentHandles.get(sid);
  if (handle === undefined) {
    handle = createHash("sha256").update(sid).digest("base64url").slice(0, HANDLE_LENGTH);
    // A request needs its handle in the store and in the middleware: hash once, not twice.
    if (recentHandles.size >= RECENT_HANDLES) recentHandles.clear();
    recentHandles.set(sid, handle);
  }
  return handle;
}
const RECENT_HANDLES = 10_000;
const recentHandles = new Map<string, string>();

export function isHandle(value: unknown): value is string {
  return typeof value === "string" && /^[A-Za-z0-9_-]{22}$/.test(value);
}

/**
 * When the session ends: the idle timeout from last activity, never past the absolute lifetime.
 * A session without "remember me" has the shorter browser idle timeout: its cookie ends with
 * the browser, and a browser that restores its tabs must not keep it for the long one.
 * `cookieExpiresAt` is the expiry of a site's own cookie (a store that keeps the site's
 * cookies): the product's lifetime caps it, and a visitor's session lives as long as it does.
 */
export function expiryOf(state: SessionState | undefined, lifetime: Lifetime, now: number, cookieExpiresAt?: number | null): number {
  const s = state ?? {};
  if (!s.userId) {
    if (cookieExpiresAt === undefined) return (s.lastActiveAt ?? now) + lifetime.anonymous;
    // A site's session whose cookie ends with the browser lives as a signed-in one of that kind would.
    return cookieExpiresAt ?? (s.lastActiveAt ?? now) + Math.min(lifetime.idle, lifetime.browserIdle);
  }
  const createdAt = s.createdAt ?? now;
  const lastActiveAt = s.lastActiveAt ?? createdAt;
  const idle = s.persistent ? lifetime.idle : Math.min(lifetime.idle, lifetime.browserIdle);
  return Math.min(lastActiveAt + idle, (s.signedInAt ?? createdAt) + lifetime.absolute, cookieExpiresAt ?? Number.POSITIVE_INFINITY);
}

/** Whether this session's last-active time is old enough to be written again. */
export function isActivityStale(state: SessionState | undefined, lifetime: Lifetime, now: number): boolean {
  return now - (state?.lastActiveAt ?? 0) >= lifetime.updateAge;
}

/**
 * Shorter names at rest for the fields every session has: a million sessions are a million
 * copies of each name (docs/benchmarks.md). Names not listed here are stored as they are.
 */
const DATA_AT_REST: Record<string, string> = {
  createdAt: "c",
  signedInAt: "si",
  idRole: "ir",
  lastActiveAt: "l",
  authAt: "a",
  credVersion: "v",
  userAgent: "ua",
  location: "lo",
  persistent: "p",
  csrfToken: "t",
  flash: "f",
  noticeSeen: "ns",
  rotatedAt: "ro",
  series: "sr",
  fromLegacy: "lg",
  movedAt: "mv",
  fresh: "fr",
};
const SNAPSHOT_AT_REST: Record<string, string> = { name: "n", email: "e", role: "r", org: "o", ver: "v", cv: "c", disabled: "x", signIn: "s" };

function renamer(table: Record<string, string>) {
  const rename = (names: Map<string, string>) => (value: object) => {
    // A loop over the keys rather than entries and spreads: every signed-in request decodes a record.
    const out: Record<string, unknown> = {};
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) put(out, names.get(key) ?? key, v);
    }
    return out;
  };
  return {
    toRest: rename(new Map(Object.entries(table))),
    fromRest: rename(new Map(Object.entries(table).map(([long, short]) => [short, long]))),
  };
}

/** Sets a key as an own property, "__proto__" too (an assignment would set the prototype). */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
const dataNames = renamer(DATA_AT_REST);
const snapshotNames = renamer(SNAPSHOT_AT_REST);

export function encodeSnapshot(snapshot: UserSnapshot): string {
  return JSON.stringify(snapshotNames.toRest(snapshot));
}

/** Where the package's state sits in a record's data, beside the site's own keys. */
const STATE_AT_REST = "~";

/**
 * The record of a session. Its data holds the site's keys as they are, the package's state
 * (kept beside the session, session-store.ts) under "~", and (`keepCookie`, for a site's own
 * session middleware) the cookie as the site set it, as connect-redis keeps it.
 */
export function encode(sess: SessionData, state: SessionState | undefined, keepCookie = false): SessionRecord {
  const { cookie, ...site } = sess;
  const { user, userId, ...own } = state ?? {};
  const data: Record<string, unknown> = { ...site, [STATE_AT_REST]: dataNames.toRest(own) };
  if (keepCookie && cookie) data.cookie = cookie;
  return {
    uv: user?.ver ?? 0,
    uid: userId ?? "",
    u: user ? encodeSnapshot(user) : "",
    d: JSON.stringify(data),
  };
}

/**
 * The session express-session gets back, or null when the record is unreadable or past its
 * expiry (the store's TTL normally removed it already; this holds whatever the clock did).
 * The cookie is the one the record kept (`keepCookie`), or else built from `cookie`.
 */
export function decode(record: SessionRecord | null, cookie: CookieShape, lifetime: Lifetime, now: number, keepCookie = false): SessionData | null {
  if (!record?.d) return null;
  const read = readOf(record, keepCookie);
  if (!read) return null;
  // Each request gets its own copy of the state: its values are replaced, never changed in
  // place, so the copy shares them with the state as read, which stays the comparison's start.
  const state = { ...read.state } as SessionState;
  const sess = read.siteKeys ? siteKeysOf(record.d) : {};
  attachState(sess, state);
  loaded.set(state, read.state);
  if (read.kept) {
    const cookieExpiresAt = read.kept.expires ? Date.parse(read.kept.expires) : null;
    if (expiryOf(state, lifetime, now, Number.isNaN(cookieExpiresAt) ? null : cookieExpiresAt) <= now) return null;
    sess.cookie = { ...read.kept };
    return sess as unknown as SessionData;
  }
  const expiresAt = expiryOf(state, lifetime, now, keepCookie ? null : undefined);
  if (expiresAt <= now) return null;
  // A site's session kept without a cookie comes back as it was kept, as from MemoryStore.
  if (keepCookie) return sess as unknown as SessionData;
  const maxAge = state.persistent ? expiresAt - now : null;
  sess.cookie = {
    httpOnly: cookie.httpOnly,
    path: cookie.path,
    sameSite: cookie.sameSite,
    secure: cookie.secure,
    originalMaxAge: maxAge,
    expires: maxAge === null ? undefined : new Date(expiresAt),
  };
  return sess as unknown as SessionData;
}

/** A record as read once: what every later request on the same record starts from. */
interface ReadRecord {
  /** The record's other parts, checked on a hit (its data is the key). */
  u: string;
  uid: string;
  keepCookie: boolean;
  /** The package's state, frozen: each request takes a copy, and compares its copy with it. */
  state: Readonly<SessionState>;
  /** Whether the site keeps keys of its own in the session (parsed again for each request, theirs to change). */
  siteKeys: boolean;
  /** The cookie as the site set it (`keepCookie`). */
  kept?: { expires?: string | null };
}

/**
 * Records read lately, by their data. A signed-in page reads the same record as the page
 * before it until the record is written again (at most once per update age): the package's
 * state in it is parsed, renamed and frozen once, not on every page; a site's own keys are
 * parsed once per page (siteKeysOf), as the site may change them. A written record has new
 * data and misses. Records of 4 KB or less: 2,000 of them hold under 10 MB.
 */
const recentRecords = new Map<string, ReadRecord>();
const RECENT_RECORDS = 2_000;
const RECENT_RECORD_MAX_LENGTH = 4_096;

function readOf(record: SessionRecord, keepCookie: boolean): ReadRecord | null {
  const hit = recentRecords.get(record.d);
  if (hit && hit.u === record.u && hit.uid === record.uid && hit.keepCookie === keepCookie) return hit;
  let state: SessionState;
  let siteKeys = false;
  let kept: ReadRecord["kept"];
  try {
    const parsed = JSON.parse(record.d) as Record<string, unknown>;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    if (Object.hasOwn(parsed, STATE_AT_REST)) {
      const own = parsed[STATE_AT_REST];
      if (own === null || typeof own !== "object" || Array.isArray(own)) return null;
      state = dataNames.fromRest(own) as SessionState;
      for (const key in parsed) if (key !== STATE_AT_REST && key !== "cookie") siteKeys = true;
      const storedCookie = parsed.cookie;
      if (keepCookie && storedCookie && typeof storedCookie === "object") kept = storedCookie as ReadRecord["kept"];
    } else {
      // A record written before the package's state had a key of its own: it is all state.
      state = dataNames.fromRest(parsed) as SessionState;
    }
    if (record.uid) state.userId = record.uid;
    if (record.u) state.user = snapshotNames.fromRest(JSON.parse(record.u)) as unknown as UserSnapshot;
  } catch {
    return null;
  }
  const read: ReadRecord = { u: record.u, uid: record.uid, keepCookie, state: deepFreeze(state), siteKeys, kept };
  // Only small records: a large one would hold its size here beside the cache.
  if (record.d.length <= RECENT_RECORD_MAX_LENGTH) {
    if (recentRecords.size >= RECENT_RECORDS) recentRecords.delete(recentRecords.keys().next().value as string);
    recentRecords.set(record.d, read);
  }
  return read;
}

/** The site's own keys of a record's data, fresh for this request (a loop: it runs on every page of a site that keeps keys). */
function siteKeysOf(d: string): Record<string, unknown> {
  const parsed = JSON.parse(d) as Record<string, unknown>;
  const sess: Record<string, unknown> = {};
  for (const key in parsed) if (key !== STATE_AT_REST && key !== "cookie") put(sess, key, parsed[key]);
  return sess;
}

/** Freezes a value read from JSON and everything in it: a state as read is shared by every request that copies it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/** Each state as it was read, to tell at the end of a request whether the package changed it. */
const loaded = new WeakMap<SessionState, Readonly<SessionState>>();

/**
 * Whether the package changed this state since it was read (a state never read is new). Its
 * values are replaced, never changed in place, so comparing each key's value is enough.
 */
export function stateChanged(state: SessionState): boolean {
  const before = loaded.get(state) as Record<string, unknown> | undefined;
  if (!before) return true;
  const now = state as Record<string, unknown>;
  let keys = 0;
  for (const key in now) {
    if (now[key] === undefined) continue;
    keys++;
    if (now[key] !== before[key]) return true;
  }
  for (const key in before) if (before[key] !== undefined) keys--;
  return keys !== 0;
}

/** The state as written now: what a later comparison starts from. */
export function markWritten(state: SessionState): void {
  loaded.set(state, { ...state });
}

export function infoOf(handle: string, state: SessionState, lifetime: Lifetime, now: number): SessionInfo {
  return {
    handle,
    series: state.series ?? handle,
    userAgent: state.userAgent ?? "",
    ip: state.ip ?? "",
    ...(state.location ? { location: state.location } : {}),
    createdAt: state.signedInAt ?? state.createdAt ?? now,
    lastActiveAt: state.lastActiveAt ?? state.createdAt ?? now,
    expiresAt: expiryOf(state, lifetime, now),
    persistent: state.persistent === true,
    ...(state.movedAt === undefined ? {} : { moved: { at: state.movedAt, seen: state.fromLegacy !== true } }),
  };
}

/**
 * Marks a session that has never been written as created now. Returns whether it is new:
 * the store then creates it; otherwise it may only update an existing record.
 */
export function stampNew(state: SessionState, now: number): boolean {
  if (state.createdAt !== undefined) return false;
  // A sign-in stamps its time on the session before the response is sent; that is the start.
  state.createdAt = state.lastActiveAt ?? now;
  state.lastActiveAt ??= now;
  return true;
}

const REASON_AT_REST: Record<Ending["reason"], string> = {
  "other-device": "o",
  admin: "a",
  password: "p",
  disabled: "d",
  cap: "c",
  deleted: "x",
  alert: "m",
  rotated: "r",
  stolen: "s",
};
const REASON_BACK = Object.fromEntries(Object.entries(REASON_AT_REST).map(([long, short]) => [short, long])) as Record<string, Ending["reason"]>;

/** A tombstone at rest: "reason|at|device", a few dozen bytes. */
export function encodeEnding(ending: Ending): string {
  return `${REASON_AT_REST[ending.reason]}|${ending.at}|${ending.device ?? ""}`;
}

export function decodeEnding(raw: string | null | undefined): Ending | null {
  if (!raw) return null;
  const [r, at, ...device] = raw.split("|");
  const reason = REASON_BACK[r];
  if (!reason || !/^\d+$/.test(at)) return null;
  return device.join("|") ? { reason, at: Number(at), device: device.join("|") } : { reason, at: Number(at) };
}
