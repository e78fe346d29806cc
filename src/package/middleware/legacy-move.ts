import { createHmac } from "node:crypto";
import type { Request } from "express";
import type { SessionData } from "express-session";
import { movedIdOfServed, poll } from "../session-store/legacy-sessions";
import { handleOf } from "../session-store/session-record";
import { attachState, markReplacing, peekState, type SessionStore, stateOf } from "../session-store/session-store";
import { clientIp, userAgentOf } from "./client-info";
import { sameBrowser } from "./rotation";

/**
 * A session connect-redis kept moves to a new id at its browser's first request after the
 * switch: the raw id sat in Redis's key names, and a weak old secret may have signed it. A page
 * that loads with several requests (tabs restored at once, a page and its stylesheet) sends the
 * old cookie more than once, so the old id leads to the new one for a grace:
 * - requests that arrive while the first one moves it wait for the new id, and take it;
 * - requests that arrive after it are served the new id's session (the store reads it for them,
 *   legacy-sessions.ts), and take the new id;
 * - after the grace the old id leads nowhere.
 * Only the browser the new id was given to takes it (its user agent, its network): a copy of
 * the old cookie elsewhere gets nothing.
 * The new id is an HMAC of the old one with the secret, so no raw id is kept: every request
 * with the old cookie knows where the session went.
 */
export interface LegacyMove {
  store: SessionStore;
  /** The strong secrets: the first makes new ids, each is tried when following one. */
  secrets: string[];
  /** How long the old id leads to the new one (ms). */
  graceMs: number;
  /** Ends the old id, leaving it leading to the new one for `graceMs`. */
  retire(oldId: string): Promise<void>;
}

/** The id a session connect-redis kept moves to, under one secret: as long as express-session's own ids. */
export function movedIdOf(sid: string, secret: string): string {
  return createHmac("sha256", secret).update(`move:${sid}`).digest().subarray(0, 24).toString("base64url");
}

/** The request goes on under `id`, with the session stored there. */
function switchTo(req: Request, id: string, sess: SessionData): void {
  req.sessionID = id;
  req.sessionStore.createSession(req, sess);
}

/**
 * A request that came with an old id the store led to its new one: it takes the new id (its
 * answer carries it), when it comes from the same browser. False: it does not, and must not be
 * served signed in.
 */
export function takeServedMove(req: Request): boolean | undefined {
  const state = peekState(req.session);
  const id = movedIdOfServed(state);
  if (id === undefined) return undefined;
  if (!sameBrowser(req, req.session)) return false;
  switchTo(req, id, req.session);
  return true;
}

/**
 * Another request of this browser is moving the session: wait for the new id to be stored,
 * then take it. False when it is another browser's, or never came.
 */
export async function awaitMove(req: Request, m: LegacyMove): Promise<boolean> {
  const id = movedIdOf(req.sessionID, m.secrets[0]);
  const sess = await poll(async () => (await read(m.store, id)) ?? undefined);
  if (!sess || !sameBrowser(req, sess)) return false;
  switchTo(req, id, sess);
  return true;
}

/**
 * The session under its new id, with everything the site keeps in it and its cookie as it was;
 * the package's state starts afresh (`describe` fills it: the account, the device), keeping
 * what is known of the sign-in. Stored, then the old id retired.
 */
export async function moveLegacySession(req: Request, m: LegacyMove, describe: () => void): Promise<void> {
  const oldId = req.sessionID;
  const { cookie, ...site } = req.session;
  const old = peekState(req.session) ?? {};
  const data = { ...site, cookie: JSON.parse(JSON.stringify(cookie)) } as unknown as SessionData;
  // The device is recorded for a visitor's session too: it is what hands the new id over.
  attachState(data, { signedInAt: old.signedInAt, movedAt: old.movedAt, userAgent: userAgentOf(req), ip: clientIp(req) });
  switchTo(req, movedIdOf(oldId, m.secrets[0]), data);
  describe();
  markReplacing(stateOf(req.session), handleOf(oldId));
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  await m.retire(oldId);
}

function read(store: SessionStore, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}
