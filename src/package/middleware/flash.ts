import signature from "cookie-signature";
import type { Request, RequestHandler, Response } from "express";
import type { Flash } from "../session-store/session-store";
import { cookiesOf } from "./client-info";

/** How long a visitor's message waits for the page it is meant for. */
const VISITOR_FLASH_MAX_AGE_MS = 5 * 60 * 1000;
const KINDS = new Set<Flash["kind"]>(["success", "error", "info"]);
const CARRIER = Symbol("visitor flash");

/** A visitor's message, in a cookie of its own, for requests that have no stored session. */
interface VisitorFlash {
  set(flash: Flash): void;
  take(): Flash | null;
  /** Whether a message is set on this request or waiting in its cookie. */
  pending(): boolean;
}

type WithCarrier = Request & { [CARRIER]?: VisitorFlash };

/**
 * Messages for visitors travel in a short signed cookie, never in a stored session: a
 * request that is not signed in stores nothing, whatever cookie it brings (a junk or dead
 * session id included), so that anonymous requests cannot fill the store. Signed with the
 * session secret: a cookie set by a neighbouring host cannot put words on this site's pages.
 */
export function visitorFlashes(secrets: string[], production: boolean): RequestHandler {
  const name = production ? "__Host-flash" : "flash";
  const options = { httpOnly: true, sameSite: "lax" as const, path: "/", secure: production };
  const read = (req: Request): Flash | null => {
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
  };
  return (req, res, next) => {
    let current: Flash | null | undefined; // undefined: the cookie is not read yet
    const clear = (r: Response) => r.clearCookie(name, options);
    (req as WithCarrier)[CARRIER] = {
      set(flash) {
        current = flash;
        res.cookie(name, signature.sign(Buffer.from(JSON.stringify(flash)).toString("base64url"), secrets[0]), {
          ...options,
          maxAge: VISITOR_FLASH_MAX_AGE_MS,
        });
      },
      take() {
        if (current === undefined) current = read(req);
        const flash = current;
        if (flash || cookiesOf(req)[name] !== undefined) clear(res);
        current = null;
        return flash;
      },
      pending() {
        if (current === undefined) current = read(req);
        return current !== null;
      },
    };
    next();
  };
}

/** Whether the person is signed in or mid sign-in: their session is stored anyway, and carries the message. */
function hasStoredSession(req: Request): boolean {
  return req.session?.userId !== undefined || req.session?.pendingSignIn !== undefined;
}

/** Shows a message once, on the page a redirect leads to. */
export function setFlash(req: Request, kind: Flash["kind"], text: string): void {
  const carrier = (req as WithCarrier)[CARRIER];
  if (carrier && !hasStoredSession(req)) {
    if (req.session) delete req.session.flash;
    carrier.set({ kind, text });
    return;
  }
  req.session.flash = { kind, text };
}

/** Whether a message is waiting to be shown on this request. */
export function hasFlash(req: Request): boolean {
  return req.session?.flash !== undefined || ((req as WithCarrier)[CARRIER]?.pending() ?? false);
}

/**
 * The message, taken from the session or the visitor's cookie. Views call it only when a page
 * is rendered, so a redirect (or a request that fails first) passes the message on untouched.
 */
export function takeFlash(req: Request): Flash | null {
  const message = req.session?.flash ?? null;
  if (message) {
    delete req.session.flash;
    return message;
  }
  return (req as WithCarrier)[CARRIER]?.take() ?? null;
}
