import { createHash } from "node:crypto";
import type { SessionData } from "express-session";
import type { UserSnapshot } from "../users/account";
import type { Ending, SessionInfo } from "./session-store";

/**
 * How a session is laid out at rest, shared by both stores so they cannot drift apart.
 *
 * A record has four parts:
 *   uv   the account snapshot's version;
 *   uid  the user id, empty for a visitor who has not signed in; never changes;
 *   u    the account snapshot as JSON, owned by the server: a request's write never replaces
 *        it with an older one (uv orders them);
 *   d    the session's own data as JSON, without the cookie (rebuilt from configuration on
 *        read), the snapshot and the user id.
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
 */
export function expiryOf(sess: SessionData, lifetime: Lifetime, now: number): number {
  if (!sess.userId) return (sess.lastActiveAt ?? now) + lifetime.anonymous;
  const createdAt = sess.createdAt ?? now;
  const lastActiveAt = sess.lastActiveAt ?? createdAt;
  const idle = sess.persistent ? lifetime.idle : Math.min(lifetime.idle, lifetime.browserIdle);
  return Math.min(lastActiveAt + idle, (sess.signedInAt ?? createdAt) + lifetime.absolute);
}

/** Whether this session's last-active time is old enough to be written again. */
export function isActivityStale(sess: SessionData, lifetime: Lifetime, now: number): boolean {
  return now - (sess.lastActiveAt ?? 0) >= lifetime.updateAge;
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
};
const SNAPSHOT_AT_REST: Record<string, string> = { name: "n", email: "e", role: "r", org: "o", ver: "v", cv: "c", disabled: "x", signIn: "s" };

function renamer(table: Record<string, string>) {
  const back = Object.fromEntries(Object.entries(table).map(([long, short]) => [short, long]));
  const rename = (names: Record<string, string>) => (value: object) => {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[names[key] ?? key] = v;
    return out;
  };
  return { toRest: rename(table), fromRest: rename(back) };
}
const dataNames = renamer(DATA_AT_REST);
const snapshotNames = renamer(SNAPSHOT_AT_REST);

export function encodeSnapshot(snapshot: UserSnapshot): string {
  return JSON.stringify(snapshotNames.toRest(snapshot));
}

export function encode(sess: SessionData): SessionRecord {
  const { cookie: _cookie, user, userId, ...data } = sess;
  return {
    uv: user?.ver ?? 0,
    uid: userId ?? "",
    u: user ? encodeSnapshot(user) : "",
    d: JSON.stringify(dataNames.toRest(data)),
  };
}

/**
 * The session express-session gets back, or null when the record is unreadable or past its
 * expiry (the store's TTL normally removed it already; this holds whatever the clock did).
 */
export function decode(record: SessionRecord | null, cookie: CookieShape, lifetime: Lifetime, now: number): SessionData | null {
  if (!record?.d) return null;
  let data: SessionData;
  try {
    data = dataNames.fromRest(JSON.parse(record.d)) as unknown as SessionData;
    if (record.uid) data.userId = record.uid;
    if (record.u) data.user = snapshotNames.fromRest(JSON.parse(record.u)) as unknown as UserSnapshot;
  } catch {
    return null;
  }
  const expiresAt = expiryOf(data, lifetime, now);
  if (expiresAt <= now) return null;
  const maxAge = data.persistent ? expiresAt - now : null;
  data.cookie = {
    ...cookie,
    originalMaxAge: maxAge,
    expires: maxAge === null ? undefined : new Date(expiresAt),
  } as SessionData["cookie"];
  return data;
}

export function infoOf(handle: string, sess: SessionData, lifetime: Lifetime, now: number): SessionInfo {
  return {
    handle,
    userAgent: sess.userAgent ?? "",
    ip: sess.ip ?? "",
    ...(sess.location ? { location: sess.location } : {}),
    createdAt: sess.signedInAt ?? sess.createdAt ?? now,
    lastActiveAt: sess.lastActiveAt ?? sess.createdAt ?? now,
    expiresAt: expiryOf(sess, lifetime, now),
    persistent: sess.persistent === true,
  };
}

/**
 * Marks a session that has never been written as created now. Returns whether it is new:
 * the store then creates it; otherwise it may only update an existing record.
 */
export function stampNew(sess: SessionData, now: number): boolean {
  if (sess.createdAt !== undefined) return false;
  // A sign-in stamps its time on the session before the response is sent; that is the start.
  sess.createdAt = sess.lastActiveAt ?? now;
  sess.lastActiveAt ??= now;
  return true;
}

const REASON_AT_REST: Record<Ending["reason"], string> = { "other-device": "o", admin: "a", password: "p", disabled: "d", cap: "c", deleted: "x" };
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
