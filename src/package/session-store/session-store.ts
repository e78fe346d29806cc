import type { SessionData, Store } from "express-session";
import type { UserSnapshot } from "../users/account";

/**
 * The session store contract, stated once. SessionStoreCore (store-core.ts) implements it
 * over the primitives of a backend: Redis, or this process's memory; and
 * test/session-store.contract.ts holds each of them to it.
 *
 * Required by express-session (callback or promise, as connect-redis does):
 *   get(sid)        the session, or null when it does not exist, expired or was ended.
 *   set(sid, sess)  a session without `createdAt` is new: it is created (and indexed under its
 *                   user in the same step). A session with `createdAt` was loaded from the
 *                   store and is only ever updated: if it has been ended meanwhile, the write
 *                   is dropped. That makes ending a session final, whatever requests that
 *                   loaded it earlier still do.
 *   destroy(sid)    ends the session and removes it from its user's index.
 *   touch(sid)      extends the expiry, at most once per update age.
 *
 * What the product adds, all keyed by user id and public handle, never by the raw id:
 *   listUserSessions, endUserSession, endUserSessions, updateUserSnapshot, ping.
 *
 * The raw session id (the cookie value) is never stored: records are keyed by its handle,
 * a truncated SHA-256 (see session-record.ts).
 */
export interface SessionStore extends Store {
  /** The user's live sessions, most recently active first. Prunes dead index entries. */
  listUserSessions(userId: string): Promise<SessionInfo[]>;
  /**
   * Ends one session if it belongs to the user; false when it does not (or no longer exists).
   * With `ending`, the session remembers why (a tombstone under its handle, for a while).
   */
  endUserSession(userId: string, handle: string, ending?: Ending): Promise<boolean>;
  /** Ends every session of the user but `exceptHandle`; returns how many were ended. */
  endUserSessions(userId: string, exceptHandle?: string, ending?: Ending): Promise<number>;
  /** The name the user gave this session, or null. */
  userSessionName(userId: string, handle: string): Promise<string | null>;
  /** Names one of the user's sessions ("Work laptop"); null removes the name. False when it is not the user's. */
  nameUserSession(userId: string, handle: string, name: string | null): Promise<boolean>;
  /** Why the session under this handle was ended, once: the tombstone goes as it is read. */
  takeEnding(handle: string): Promise<Ending | null>;
  /** Why the session under this handle was ended, leaving the tombstone (a rotated id is asked about again). */
  peekEnding(handle: string): Promise<Ending | null>;
  /** Copies changed account data (name, role, ...) into every session of the user. */
  updateUserSnapshot(userId: string, snapshot: UserSnapshot): Promise<void>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why a session ended, when something other than its own sign-out ended it. Idle and
 * absolute expiry leave none: they are the default explanation.
 */
export interface Ending {
  reason: "other-device" | "admin" | "password" | "disabled" | "cap" | "deleted" | "alert" | "rotated" | "stolen";
  at: number;
  /** For "other-device": the device it was ended from ("Chrome on Windows"). */
  device?: string;
  /** How long the tombstone is kept (ms), when not SESSION_TOMBSTONE_TTL; not kept in it. */
  keepMs?: number;
}

/** One row of the sessions page. */
export interface SessionInfo {
  handle: string;
  /** The handle the session signed in with, kept across its new ids (see SessionState.series). */
  series: string;
  userAgent: string;
  ip: string;
  /** Where the address is, roughly; absent for private addresses. */
  location?: string;
  createdAt: number;
  lastActiveAt: number;
  expiresAt: number;
  persistent: boolean;
  /** The name its owner gave it, if any. */
  name?: string;
  /**
   * Made from connect-redis's record at `at`: signed in no later than `createdAt`, and, until
   * its browser is `seen` here, with no device, address or activity known.
   */
  moved?: { at: number; seen: boolean };
}

export interface Flash {
  kind: "success" | "error" | "info";
  text: string;
}

/**
 * What the package keeps in a session, all under one key of its own (`req.session.userSessions`):
 * the session belongs to the site, whose code and libraries (Passport, connect-flash, a cart)
 * keep their own keys beside it. The package neither reads nor rewrites those.
 */
export interface SessionState {
  /** The account signed in on this session; set once, when the session is indexed under it. */
  userId?: string;
  user?: UserSnapshot;
  /** Set by the store when it first writes the session (the sign-in time for signed-in ones). */
  createdAt?: number;
  /** The sign-in time, kept when the session moved to a new id without a sign-in (a role change). */
  signedInAt?: number;
  /** The role this session id was issued with: another role means a new id (privilege change). */
  idRole?: string;
  lastActiveAt?: number;
  /** When the password was last entered in this session (re-authentication window). */
  authAt?: number;
  /** The account's credential version when this session signed in. */
  credVersion?: number;
  userAgent?: string;
  ip?: string;
  /** Where `ip` is, roughly ("Berlin, Germany"), looked up when the address was recorded. */
  location?: string;
  /** "Remember me": the cookie outlives the browser. */
  persistent?: boolean;
  /** The sign-in notice (its time) this session dismissed. */
  noticeSeen?: number;
  /**
   * A sign-in waiting for its owner to pick sessions to end (SESSION_LIMIT_POLICY=ask): the
   * password was right, but the account is at the cap. Nothing is signed in until then. It
   * completes only under the credential version it was made under, and only once (`claim`
   * is taken in the store).
   */
  pendingSignIn?: {
    userId: string;
    remember: boolean;
    at: number;
    next: string;
    credVersion: number;
    claim: string;
    /** The name this device had, when it was signed in to the account already: it keeps it. */
    name?: string;
  };
  flash?: Flash;
  /** The synchronizer token of the package's forms. */
  csrfToken?: string;
  /**
   * The handle of the id this session signed in with: it stays when the id changes (rotation,
   * a role change), so a link in a mail or a notice can name the session after its id moved on.
   */
  series?: string;
  /** When this session last got a new id by rotation (stolen-cookie detection). */
  rotatedAt?: number;
  /** Made from connect-redis's record (`legacy`), not yet moved to a new id: its site's sign-in is honoured at its first request. */
  fromLegacy?: boolean;
  /** When it was made from connect-redis's record: its sign-in time is then only known to be no later than `signedInAt`. */
  movedAt?: number;
  /** A new id from a rotation that no request has used yet. */
  fresh?: boolean;
}

/**
 * The package's state of each session, beside the session object express-session hands
 * around rather than in it: `req.session` holds only what the site put there (and its
 * cookie), so express-session's hash, the site's JSON and the site's libraries never see it.
 * The store attaches it when it reads a session (createSession) and writes it with the session.
 */
const states = new WeakMap<object, SessionState>();

/** The package's part of this session, made when first needed. */
export function stateOf(sess: SessionData): SessionState {
  let state = states.get(sess);
  if (!state) {
    state = {};
    states.set(sess, state);
  }
  return state;
}

/** The package's part of this session, if it has one. */
export function peekState(sess: SessionData | undefined | null): SessionState | undefined {
  return sess ? states.get(sess) : undefined;
}

/** Puts a state beside a session object (the one express-session will hand around, or one to write). */
export function attachState(sess: object, state: SessionState): void {
  states.set(sess, state);
}

/**
 * The session this one's record replaces (the same session under a new id: rotation, a move
 * from connect-redis), while the old id is still indexed: the per-user cap counts them as one
 * and never ends the old one for the new. Beside the state, never stored.
 */
const replacing = new WeakMap<SessionState, string>();

export function markReplacing(state: SessionState, handle: string): void {
  replacing.set(state, handle);
}

export function replacedBy(state: SessionState): string | undefined {
  return replacing.get(state);
}
