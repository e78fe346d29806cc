import type { SessionData } from "express-session";
import type { RedisClientType } from "redis";
import { isCluster, sendRaw } from "../redis/client";
import type { MigrationProgress } from "./migration-progress";
import { handleOf } from "./session-record";
import { attachState, peekState, type SessionState } from "./session-store";

/**
 * The sessions connect-redis kept (plain JSON under its prefix and the raw id, the cookie in
 * it), for a site moving from it. Each becomes a record of the package's under the hash of its
 * id, indexed under its account when `userIdOf` names one: by the migration (every key, in the
 * background or as a command) or at its browser's first request, whichever comes first. The
 * browser's first request then moves it to a new id (middleware/legacy-move.ts); the old id
 * leads to the new one for a grace, and then to nothing.
 */
export interface LegacyOptions {
  /** connect-redis's prefix (its default is "sess:"). */
  prefix: string;
  /** The account a stored session belongs to, as the site's own data says (`session.passport?.user`). */
  userIdOf?: (session: Record<string, unknown>) => unknown;
  /** The ids a moved session may live on under (middleware/legacy-move.ts): one per secret. */
  movedIdsOf(sid: string): string[];
}

/** What the legacy code needs of the store it serves. */
export interface LegacyStorePort {
  redis: RedisClientType;
  now(): number;
  /** Creates the record (and its index entry); throws when one exists. */
  create(sid: string, sess: SessionData): Promise<void>;
  /** The session stored under this id, or null. */
  read(sid: string): Promise<SessionData | null>;
  /** Ends the record under this handle, in the index too. */
  remove(handle: string): Promise<void>;
  /** Why the session under this handle ended ("rotated": it lives on under a new id). */
  endingOf(handle: string): Promise<string | null>;
  /** Takes the hold on making this session the package's (true for one caller at a time), and gives it back. */
  holdAdoption(handle: string, ms: number): Promise<boolean>;
  releaseAdoption(handle: string): Promise<void>;
  /** Remembers, for `ms`, that this session was made the package's; and whether it was. */
  markAdopted(handle: string, ms: number): Promise<void>;
  wasAdopted(handle: string): Promise<boolean>;
}

/** A session served on an old id, read from the id it moved to: the request moves to that id (legacy-move.ts). */
const movedTo = new WeakMap<SessionState, string>();

export function movedIdOfServed(state: SessionState | undefined): string | undefined {
  return state ? movedTo.get(state) : undefined;
}

/**
 * Empties a session read on an old id for a request that is not its browser's (a copy of the
 * old cookie): nothing of the session is left in it, and it stays marked as served on a moved
 * id, so that track() refuses it. It reads as a live session, not a dead cookie: the old id's
 * tombstone stays for the late requests of the browser it moved for.
 */
export function emptyForCopy(sess: SessionData): void {
  const state = peekState(sess);
  const id = movedIdOfServed(state);
  if (!state || id === undefined) return;
  for (const key of Object.keys(sess)) if (key !== "cookie") delete (sess as unknown as Record<string, unknown>)[key];
  const stub: SessionState = { createdAt: state.createdAt };
  movedTo.set(stub, id);
  attachState(sess, stub);
}

/** The longest user id kept: ids are keys in the store. */
const MAX_USER_ID_LENGTH = 200;

/** The account a user id names, as the package keeps it (a non-empty string, or a finite number as one). */
function userIdFrom(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && value !== "" && value.length <= MAX_USER_ID_LENGTH) return value;
  return undefined;
}

/** A connect-redis record as a session of the package's, or null when the value is no session. */
export function legacySession(raw: string, options: LegacyOptions, now: number): SessionData | null {
  let sess: unknown;
  try {
    sess = JSON.parse(raw);
  } catch {
    return null;
  }
  if (sess === null || typeof sess !== "object" || Array.isArray(sess)) return null;
  let userId: string | undefined;
  try {
    userId = userIdFrom(options.userIdOf?.(sess as Record<string, unknown>));
  } catch {
    userId = undefined;
  }
  const cookie = (sess as { cookie?: { expires?: unknown; originalMaxAge?: unknown } }).cookie;
  const expires = typeof cookie?.expires === "string" ? Date.parse(cookie.expires) : Number.NaN;
  const maxAge = typeof cookie?.originalMaxAge === "number" ? cookie.originalMaxAge : Number.NaN;
  // express-session sets a remembered cookie's expiry when it sends it: it was last sent (and
  // so signed in) no later than this. Of a cookie that ends with the browser nothing is known
  // but that it was before the switch.
  const lastSent = expires - maxAge;
  const signedInAt = Number.isFinite(lastSent) && lastSent <= now ? lastSent : now;
  const state: SessionState = { fromLegacy: true, movedAt: now, signedInAt, lastActiveAt: now, persistent: Number.isFinite(expires) };
  if (userId !== undefined) state.userId = userId;
  attachState(sess, state);
  return sess as SessionData;
}

/**
 * How long a hold on an adoption lasts at most: shorter than a request waits (`poll`), so that
 * the hold of a process that died holding it runs out and the waiting request makes the
 * session the package's itself.
 */
const ADOPTION_HOLD_MS = 2_000;
/** How much longer than connect-redis's key the mark of an adoption is kept: a rolling deploy's instances may save it again meanwhile. */
const ADOPTED_MARGIN_MS = 86_400_000;
const WAIT_STEP_MS = 10;
const WAIT_STEPS = 300;

/**
 * Asks `step` every 10 ms until it answers, for 3 s at most: while another request of the same
 * browser (or the migration) makes a session the package's or moves it to its new id.
 */
export async function poll<T>(step: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let i = 0; i < WAIT_STEPS; i++) {
    const answer = await step();
    if (answer !== undefined) return answer;
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
  return undefined;
}

/**
 * The session under this id, as the store reads it when it holds none: one connect-redis
 * wrote, made the package's (and its old key removed); or, for an id that moved within its
 * grace, the session it moved to, marked so the request takes that id.
 */
export async function readLegacy(port: LegacyStorePort, options: LegacyOptions, sid: string): Promise<SessionData | null> {
  const key = `${options.prefix}${sid}`;
  if ((await port.redis.get(key).catch(notAString)) !== null && (await adoptOrAwait(port, options, sid, key)) === "no session") return null;
  // The package's by now (made by this request, another or the migration: each creates the
  // record before it removes the old key), or already moved on by its browser's first request
  // while this one was on its way: then the old id leads to the new one.
  return (await port.read(sid)) ?? followMove(port, options, sid);
}

/**
 * Makes connect-redis's session the package's, or waits while another request (or the
 * migration) does: the hold lets one of them at a time create the record, and only from the
 * key as it is under the hold. A request that read the key before another made it the
 * package's, moved it on or ended it then finds the key gone and creates nothing: a retired
 * or ended id never comes back, not even for a moment.
 */
async function adoptOrAwait(port: LegacyStorePort, options: LegacyOptions, sid: string, key: string): Promise<Adoption> {
  const adopted = await poll(async () => (await adoptIfFree(port, options, sid, key)) ?? ((await port.read(sid)) ? "made" : undefined));
  if (adopted) return adopted;
  // Neither made nor given up on (Redis too slow to tell): 503, and the browser keeps its cookie.
  throw Object.assign(new Error("This session is being moved to the site's new session store; please try again in a moment."), {
    status: 503,
    expose: true,
  });
}

/** Makes it the package's when no other request or run holds it (undefined when one does). */
async function adoptIfFree(port: LegacyStorePort, options: LegacyOptions, sid: string, key: string): Promise<Adoption | undefined> {
  const handle = handleOf(sid);
  if (!(await port.holdAdoption(handle, ADOPTION_HOLD_MS))) return undefined;
  try {
    return await adoptHeld(port, options, sid, key);
  } finally {
    await port.releaseAdoption(handle);
  }
}

/** Made the package's (and indexed under its account), gone before it could be, or no session at all. */
type Adoption = "made" | "indexed" | "gone" | "no session";

/** Under the hold: the record made from the key as it is now, then the key removed. */
async function adoptHeld(port: LegacyStorePort, options: LegacyOptions, sid: string, key: string): Promise<Adoption> {
  const [raw, adoptedBefore, ttl] = await Promise.all([port.redis.get(key).catch(notAString), port.wasAdopted(handleOf(sid)), port.redis.pTTL(key)]);
  if (raw === null) return "gone";
  if (adoptedBefore) {
    // Written again after the package had it (a site instance not yet switched saved it): the
    // id has been the package's since, may have moved on or been ended, and is never made the
    // package's a second time.
    await port.redis.del(key);
    return "gone";
  }
  const sess = legacySession(raw, options, port.now());
  if (!sess) return "no session";
  try {
    await port.create(sid, sess);
  } catch (err) {
    // Made already (by a holder whose hold ran out): the key is left to it. Any other failure is one.
    if (await port.read(sid)) return "gone";
    throw err;
  }
  // Remembered as long as connect-redis would have kept the key (a day when it had no expiry):
  // a copy of it saved again later by an instance not yet switched is refused all that time.
  await port.markAdopted(handleOf(sid), ttl > 0 ? ttl + ADOPTED_MARGIN_MS : ADOPTED_MARGIN_MS);
  if ((await port.redis.del(key)) === 0) {
    // connect-redis itself removed it meanwhile (a site instance not yet switched signed it out).
    await port.remove(handleOf(sid));
    return "gone";
  }
  return peekState(sess)?.userId === undefined ? "made" : "indexed";
}

/** A key of another kind under the prefix is no session connect-redis wrote (null); any other error is one. */
function notAString(err: unknown): null {
  if (err instanceof Error && err.message.startsWith("WRONGTYPE")) return null;
  throw err;
}

/** The live session an old id moved to, while the old id's grace lasts (its "rotated" tombstone). */
async function followMove(port: LegacyStorePort, options: LegacyOptions, sid: string): Promise<SessionData | null> {
  if ((await port.endingOf(handleOf(sid))) !== "rotated") return null;
  for (const id of options.movedIdsOf(sid)) {
    const sess = await port.read(id);
    const state = peekState(sess);
    if (sess && state) {
      movedTo.set(state, id);
      return sess;
    }
  }
  return null;
}

export interface MigrationOptions {
  /** Keys asked of each SCAN step (a hint to Redis, not a bound). Default 500. */
  count?: number;
  /** Told after each step. */
  onProgress?: (progress: MigrationProgress) => void;
  /** Stops after the current step when it returns true (the next run resumes). */
  stop?: () => boolean;
  /** Where the SCAN cursor of each server is kept between runs, so that a run resumes; and, beside it, who runs. */
  cursorKey: string;
}

/** How long a run holds the migration without a step, and how long a finished walk is not walked again (s). */
const HOLD_S = 60;
const DONE_S = 86_400;

/**
 * Makes every session connect-redis kept the package's: SCAN over its prefix, a small step at
 * a time (every server of a Cluster), never a command that walks the keyspace at once. The
 * cursor is kept in Redis after each step, so a run that stops (a deploy, a crash) resumes
 * where it was; a key made the package's is gone from the prefix, so a step done twice does
 * nothing twice.
 */
export async function migrateLegacy(port: LegacyStorePort, options: LegacyOptions, run: MigrationOptions): Promise<MigrationProgress> {
  const progress: MigrationProgress = { scanned: 0, moved: 0, indexed: 0, skipped: 0, done: false };
  const match = `${options.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  // One run at a time (instances start together): two would each keep the other's cursor.
  const holdKey = `${run.cursorKey}:run`;
  if ((await port.redis.set(holdKey, "1", { NX: true, EX: HOLD_S })) === null) return { ...progress, busy: true };
  try {
    for (const [name, node] of await serversOf(port.redis)) {
      const cursorKey = `${run.cursorKey}{${name}}`;
      let cursor = (await port.redis.get(cursorKey)) ?? "0";
      if (cursor === "done") continue;
      do {
        if (run.stop?.()) return progress;
        const [next, keys] = await sendRaw<[string, string[]]>(node, undefined, ["SCAN", cursor, "MATCH", match, "COUNT", String(run.count ?? 500)]);
        cursor = String(next);
        await Promise.all(keys.map((key) => migrateOne(port, options, key, progress)));
        progress.scanned += keys.length;
        // Kept a day: a run that never comes back leaves nothing behind for long.
        await port.redis.set(cursorKey, cursor === "0" ? "done" : cursor, { EX: DONE_S });
        await port.redis.expire(holdKey, HOLD_S);
        run.onProgress?.({ ...progress });
        // Let the requests of this process in between: a step is a few hundred commands.
        await new Promise((resolve) => setImmediate(resolve));
      } while (cursor !== "0");
    }
  } finally {
    await port.redis.del(holdKey).catch(() => {});
  }
  progress.done = true;
  run.onProgress?.({ ...progress });
  return progress;
}

async function migrateOne(port: LegacyStorePort, options: LegacyOptions, key: string, progress: MigrationProgress): Promise<void> {
  const sid = key.slice(options.prefix.length);
  // The package's own keys may share the prefix (no keyPrefix): a handle, an index, a tombstone.
  // A session its browser is making the package's right now is left to that request.
  const adopted = sid.includes(":") ? undefined : await adoptIfFree(port, options, sid, key);
  if (adopted === "made" || adopted === "indexed") progress.moved++;
  else progress.skipped++;
  if (adopted === "indexed") progress.indexed++;
}

/** Every server to SCAN, by a name for its cursor: the masters of a Cluster, or the one server. */
async function serversOf(redis: RedisClientType): Promise<Array<[string, RedisClientType]>> {
  if (!isCluster(redis)) return [["0", redis]];
  const cluster = redis as unknown as { masters: Array<{ address: string }>; nodeClient(node: unknown): Promise<RedisClientType> };
  return Promise.all(cluster.masters.map(async (m) => [m.address, await cluster.nodeClient(m)] as [string, RedisClientType]));
}

export type { MigrationProgress };
