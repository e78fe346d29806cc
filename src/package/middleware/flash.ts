import signature from "cookie-signature";
import type { Request, RequestHandler } from "express";
import { type Flash, peekState, stateOf } from "../session-store/session-store";
import { cookiesOf } from "./client-info";

/** How long a visitor's message waits for the page it is meant for. */
const VISITOR_FLASH_MAX_AGE_MS = 5 * 60 * 1000;
const KINDS = new Set<Flash["kind"]>(["success", "error", "info"]);

interface VisitorFlashCookie {
  name: string;
  options: { httpOnly: true; sameSite: "lax"; path: "/"; secure: boolean };
  secrets: string[];
}

/**
 * What each request knows of the visitor's message: the cookie's settings of the sessions it
 * passed, and the message once set or read. Beside the request rather than a property of it:
 * a property added to every request costs each page more than the lookup (docs/benchmarks.md).
 */
interface VisitorFlash {
  cookie: VisitorFlashCookie;
  /** Absent: the cookie is not read yet. */
  current?: Flash | null;
}
const visitors = new WeakMap<Request, VisitorFlash>();

/**
 * Messages for visitors travel in a short signed cookie, never in a stored session: a
 * request that is not signed in stores nothing, whatever cookie it brings (a junk or dead
 * session id included), so that anonymous requests cannot fill the store. Signed with the
 * session secret: a cookie set by a neighbouring host cannot put words on this site's pages.
 */
export function visitorFlashes(secrets: string[], production: boolean): RequestHandler {
  const cookie: VisitorFlashCookie = {
    name: production ? "__Host-flash" : "flash",
    options: { httpOnly: true, sameSite: "lax", path: "/", secure: production },
    secrets,
  };
  return (req, _res, next) => {
    visitors.set(req, { cookie });
    next();
  };
}

/**
 * Whether the request carries the cookie: most carry none, and every page asks, so the
 * Cookie header is parsed only when the name is in it.
 */
function carriesCookie(req: Request, name: string): boolean {
  return req.headers.cookie?.includes(name) === true && cookiesOf(req)[name] !== undefined;
}

/** The message in the visitor's cookie, when it is one this site signed. */
function readCookie(req: Request, { name, secrets }: VisitorFlashCookie): Flash | null {
  if (!carriesCookie(req, name)) return null;
  const sent = cookiesOf(req)[name];
  if (typeof sent !== "string" || sent.length > 2048) return null;
  const value = secrets.map((s) => signature.unsign(sent, s)).find((v) => v !== false);
  if (!value) return null;
  try {
    const { kind, text } = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<Flash>;
    return typeof text === "string" && KINDS.has(kind as Flash["kind"]) ? { kind: kind as Flash["kind"], text } : null;
  } catch {
    return null;
  }
}

/** This request's visitor message: set on it, or else read from its cookie (once). */
function visitorMessage(req: Request, visitor: VisitorFlash): Flash | null {
  if (visitor.current === undefined) visitor.current = readCookie(req, visitor.cookie);
  return visitor.current;
}

/** Whether the person is signed in or mid sign-in: their session is stored anyway, and carries the message. */
function sessionIsStored(req: Request): boolean {
  return peekState(req.session)?.userId !== undefined || peekState(req.session)?.pendingSignIn !== undefined;
}

/** Shows a message once, on the page a redirect leads to. */
export function setFlash(req: Request, kind: Flash["kind"], text: string): void {
  const visitor = visitors.get(req);
  if (!visitor || sessionIsStored(req)) {
    stateOf(req.session).flash = { kind, text };
    return;
  }
  const state = peekState(req.session);
  if (state) delete state.flash;
  const { name, options, secrets } = visitor.cookie;
  visitor.current = { kind, text };
  req.res!.cookie(name, signature.sign(Buffer.from(JSON.stringify(visitor.current)).toString("base64url"), secrets[0]), {
    ...options,
    maxAge: VISITOR_FLASH_MAX_AGE_MS,
  });
}

/** Whether a message is waiting to be shown on this request. */
export function hasFlash(req: Request): boolean {
  if (peekState(req.session)?.flash !== undefined) return true;
  const visitor = visitors.get(req);
  return visitor !== undefined && visitorMessage(req, visitor) !== null;
}

/**
 * The message, taken from the session or the visitor's cookie. Views call it only when a page
 * is rendered, so a redirect (or a request that fails first) passes the message on untouched.
 */
export function takeFlash(req: Request): Flash | null {
  const message = peekState(req.session)?.flash ?? null;
  if (message) {
    delete peekState(req.session)!.flash;
    // A copy: the state as read is shared and frozen (session-record.ts); the site's to keep.
    return { ...message };
  }
  const visitor = visitors.get(req);
  if (!visitor) return null;
  const flash = visitorMessage(req, visitor);
  if (flash || carriesCookie(req, visitor.cookie.name)) req.res!.clearCookie(visitor.cookie.name, visitor.cookie.options);
  visitor.current = null;
  return flash;
}
