import { createHmac } from "node:crypto";
import type { Request, RequestHandler } from "express";
import type { SessionData } from "express-session";
import { networkOf } from "../addresses";
import { handleOf } from "../session-store/session-record";
import { attachState, markReplacing, peekState, type SessionStore } from "../session-store/session-store";
import { clientIp, userAgentOf } from "./client-info";
import { regenerate, servedForCurrentId } from "./current-user";
import { setFlash } from "./flash";

/** How far a browser's chain of missed new ids is followed (each lost response is one step). */
const MAX_FOLLOW = 4;

export interface Rotation {
  store: SessionStore;
  /** A signed-in session gets a new id this often (ms), on its first request after that long. */
  intervalMs: number;
  /** How long the previous id keeps working after a new one was given (ms). */
  graceMs: number;
  secrets: string[];
  now: () => number;
  /** The session id the browser sent, when its signature holds. */
  sentId(req: Request): string | undefined;
  /** Takes a one-time claim: true for the first request that asks for this key. */
  claim(key: string): Promise<boolean>;
  /** Two parties held one session: it has been ended for both; tell the owner. */
  onStolen(req: Request, userId: string, session: string, account: { name: string; email?: string | null } | undefined): Promise<void>;
}

/**
 * Stolen-cookie detection by rotation. A signed-in session gets a new id every `intervalMs`,
 * keeping its data; the old id is ended with a "rotated" tombstone. A browser that comes back
 * with the old id:
 * - while the new id has never been used (the response that carried it was lost), is given it,
 *   if it is the browser the session is on (its user agent and network);
 * - within `graceMs` once the new id was used (parallel tabs, requests in flight), is served
 *   on the old id and given nothing: the browser that used the new id has it already, and a
 *   copy of the old cookie never learns it;
 * - after the grace, once the new id has been used, shows that two parties hold the session:
 *   it ends for both, and the owner is told.
 * The new id is derived from the old one with an HMAC of the session secret, so the store keeps
 * no raw id: only a holder of the old cookie, through the server, can reach the new one.
 */
export function sessionRotation(r: Rotation): RequestHandler {
  return (req, _res, next) => {
    // Most requests have nothing to do here and go on at once; only a rotation or a dead
    // cookie waits for the store.
    const work = follow(req, r);
    if (work) work.then(() => next(), next);
    else next();
  };
}

function follow(req: Request, r: Rotation): Promise<void> | undefined {
  if (!req.session) return undefined;
  const state = peekState(req.session);
  if (state?.createdAt !== undefined) {
    if (!state.userId) return undefined;
    // The first request on a new id: it is in use now (a later request with the old id is not a lost response).
    if (state.fresh) delete state.fresh;
    const since = state.rotatedAt ?? state.signedInAt ?? state.createdAt;
    // Only the browser the session is on moves it to a new id: a copy elsewhere is never given one.
    return r.now() - since >= r.intervalMs && sameBrowser(req, req.session) ? rotate(req, r) : undefined;
  }
  const sent = r.sentId(req);
  return sent ? comeBack(req, r, sent) : undefined;
}

/** The id an old one moves to: an HMAC of it, as long as express-session's own ids. */
export function successorOf(sid: string, secrets: string[]): string {
  return createHmac("sha256", secrets[0]).update(`rotate:${sid}`).digest().subarray(0, 24).toString("base64url");
}

/** This session under its next id, stored now; the old id ends with a "rotated" tombstone. */
async function rotate(req: Request, r: Rotation): Promise<void> {
  const oldId = req.sessionID;
  const userId = peekState(req.session)!.userId!;
  const now = r.now();
  const nextId = successorOf(oldId, r.secrets);
  // Requests of one browser at the same moment (tabs): one rotates, the others take its new id
  // once it is stored (or go on with the old one, which still works for the grace).
  if (!(await r.claim(`rotate:${handleOf(oldId)}`))) {
    const rotated = await read(r.store, nextId);
    // Only a new id nobody used yet is handed over, and only to the browser the session is
    // on: once used, or to another browser, a second holder of the old one gets nothing.
    if (rotated && peekState(rotated)?.fresh === true && sameBrowser(req, rotated)) {
      req.sessionID = nextId;
      req.sessionStore.createSession(req, rotated);
    }
    return;
  }
  const name = await r.store.userSessionName(userId, handleOf(oldId));
  const { cookie, ...site } = req.session;
  const { createdAt, ...state } = peekState(req.session) ?? {};
  const data = {
    ...site,
    // The cookie as it was (a remembered one keeps its expiry): its options, not the object.
    cookie: JSON.parse(JSON.stringify(cookie)),
  } as unknown as SessionData;
  const next = { ...state, signedInAt: state.signedInAt ?? createdAt, rotatedAt: now, fresh: true };
  attachState(data, next);
  markReplacing(next, handleOf(oldId));
  req.sessionID = nextId;
  req.sessionStore.createSession(req, data);
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  // The name its owner gave it comes along.
  if (name) await r.store.nameUserSession(userId, handleOf(nextId), name);
  // Only once the new id is stored: the session never has no id. The old id is recognised for
  // two intervals: enough to tell a copy in use, without a tombstone per rotation for days.
  if (await r.store.endUserSession(userId, handleOf(oldId), { reason: "rotated", at: now, keepMs: Math.max(2 * r.intervalMs, r.graceMs) })) return;
  // The session was ended while it rotated (from the sessions page, a mail's link...): its
  // new id ends too (regenerate destroys it), and this request goes on signed out; the old
  // id's tombstone says why.
  await regenerate(req);
}

/** A browser came back with an id no stored session answers: follow it if it was rotated. */
async function comeBack(req: Request, r: Rotation, sent: string): Promise<void> {
  const first = await r.store.peekEnding(handleOf(sent));
  if (first?.reason !== "rotated") return;
  let id = sent;
  for (let step = 0; step < MAX_FOLLOW; step++) {
    const next = await nextOf(r, id);
    if (!next) return;
    id = next.id;
    const current = next.session;
    // Rotated again (its next id was used): follow on.
    if (!current) continue;
    const userId = peekState(current)?.userId;
    if (!userId) return;
    // Used: a request came with the new id (or it has been rotated on since). Another browser
    // than the session's own is never handed the new id: for it, the new id counts as used.
    const used = step > 0 || peekState(current)?.fresh !== true || !sameBrowser(req, current);
    if (used && r.now() - first.at > r.graceMs) {
      // The new id is in use and this browser's is past its grace: two parties hold the session.
      await r.store.endUserSession(userId, handleOf(id), { reason: "stolen", at: r.now() });
      await r.onStolen(req, userId, handleOf(id), peekState(current)?.user);
      setFlash(req, "error", STOLEN_MESSAGE);
      return;
    }
    // The response with the new id never arrived: this browser gets it. Otherwise (parallel
    // tabs, within the grace) it is served on the id it sent, which the store no longer
    // holds: what this request writes back is dropped, and its cookie stays as it is.
    req.sessionID = used ? sent : id;
    req.sessionStore.createSession(req, current);
    if (used) servedForCurrentId(req, id);
    return;
  }
}

/**
 * Where an id was rotated to: the live session under its successor, or a successor that was
 * rotated on in turn. Each secret is tried (the first signs new ids; after SESSION_SECRET
 * rotation, an id rotated under an older one is still followed).
 */
async function nextOf(r: Rotation, id: string): Promise<{ id: string; session: SessionData | null } | null> {
  for (const secret of r.secrets) {
    const candidate = successorOf(id, [secret]);
    const session = await read(r.store, candidate);
    if (session) return { id: candidate, session };
    if ((await r.store.peekEnding(handleOf(candidate)))?.reason === "rotated") return { id: candidate, session: null };
  }
  return null;
}

/**
 * Whether this request comes from the browser the session is on, as the sessions page shows
 * it: the same user agent, from the same network (an IPv4 /24, an IPv6 /64). A copy of the
 * cookie that asks for the new id first, from another browser or another network, is not
 * handed it; one with the same user agent behind the same address cannot be told apart.
 */
export function sameBrowser(req: Request, session: SessionData): boolean {
  const state = peekState(session);
  return state?.userAgent === userAgentOf(req) && state.ip !== undefined && networkOf(state.ip) === networkOf(clientIp(req));
}

export const STOLEN_MESSAGE =
  "A copy of your session cookie was used on another device, so this session was ended everywhere it was used. Sign in again; if you did not expect this, change your password.";

function read(store: SessionStore, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}
