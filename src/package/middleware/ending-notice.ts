import signature from "cookie-signature";
import type { Request, RequestHandler, Response } from "express";
import type { Config } from "../config";
import { handleOf } from "../session-store/session-record";
import type { Ending, SessionStore } from "../session-store/session-store";
import { formatTime } from "../sessions/format-time";
import { cookiesOf } from "./client-info";
import { hasFlash, setFlash } from "./flash";
import { cameWithDeadCookie } from "./page-locals";

/** What the person reads on the next page after their session was ended elsewhere. */
export function endingMessage(ending: Ending, maxSessionsPerUser: number): string {
  const when = formatTime(ending.at);
  switch (ending.reason) {
    case "other-device":
      return `You were signed out from ${ending.device || "another device"} on ${when}. Not you? Sign in and change your password.`;
    case "admin":
      return `An administrator signed you out on ${when}.`;
    case "password":
      return `You were signed out on ${when} because the password of the account was changed. Not you? Contact the administrators of this site.`;
    case "disabled":
      return `You were signed out on ${when}: this account has been disabled.`;
    case "cap":
      return `You were signed out on ${when}: the account was signed in on more than ${maxSessionsPerUser} devices, and this one had been used least recently.`;
    case "deleted":
      return `You were signed out on ${when}: the account was deleted.`;
    case "rotated":
      return "Your session has ended. Please sign in again.";
    case "stolen":
      return `On ${when} a copy of your session cookie was used on another device, so this session was ended everywhere it was used. Sign in again; if you did not expect this, change your password.`;
    case "alert":
      return `This session was ended on ${when} from an email alert about a new sign-in. If that was you by mistake, sign in again.`;
  }
}

/**
 * A small cookie beside the session's, set at sign-in: when the session's absolute lifetime
 * ends, and whether it was remembered. When a session is gone with no tombstone, it expired:
 * this tells an idle timeout from the absolute lifetime with no write at expiry. Not secret;
 * a forged one only changes the wording its own browser reads.
 */
export function expiryCookieName(config: Config): string {
  return config.production ? "__Host-sx" : "sx";
}

export function setExpiryCookie(res: Response, config: Config, signedInAt: number, remembered: boolean): void {
  const ends = signedInAt + config.lifetime.absolute;
  res.cookie(expiryCookieName(config), `${ends}.${remembered ? "r" : "b"}`, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    secure: config.production,
    // Outlives the session by as long as a tombstone would, so that the browser can be told.
    maxAge: config.lifetime.absolute + config.tombstoneTtl * 1000,
  });
}

export function clearExpiryCookie(res: Response, config: Config): void {
  res.clearCookie(expiryCookieName(config), { httpOnly: true, sameSite: "lax", path: "/", secure: config.production });
}

function expiryOf(sent: string | undefined, config: Config, now: number): { limit: "idle" | "absolute"; message: string } | null {
  const m = /^(\d{1,16})\.([rb])$/.exec(sent ?? "");
  if (!m) return null;
  if (now >= Number(m[1])) {
    return { limit: "absolute", message: `Sessions last at most ${days(config.lifetime.absolute)} after signing in, however active: please sign in again.` };
  }
  const idle = m[2] === "r" ? config.lifetime.idle : Math.min(config.lifetime.idle, config.lifetime.browserIdle);
  return { limit: "idle", message: `You were signed out after ${days(idle)} without activity: please sign in again.` };
}

/** "30 days", "12 hours", "15 minutes", "2 seconds". */
function days(ms: number): string {
  const [n, unit] =
    ms >= 48 * 3_600_000
      ? [Math.round(ms / 86_400_000), "day"]
      : ms >= 2 * 3_600_000
        ? [Math.round(ms / 3_600_000), "hour"]
        : ms >= 120_000
          ? [Math.round(ms / 60_000), "minute"]
          : [Math.round(ms / 1000), "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** The session id in the browser's cookie, when express-session's signature on it holds. */
export function sentSessionId(req: Request, cookieName: string, secrets: string[]): string | undefined {
  const sent = cookiesOf(req)[cookieName];
  const signed = typeof sent === "string" && sent.startsWith("s:") ? sent.slice(2) : undefined;
  const sid = signed ? secrets.map((secret) => signature.unsign(signed, secret)).find((v) => v !== false) : undefined;
  return sid || undefined;
}

/**
 * A browser that sent a session cookie no stored session answered: when something ended that
 * session (another device, an administrator, a password change...), say so once, on this
 * page or the sign-in page it is sent to; the tombstone goes as it is read. Costs one read,
 * and only for requests with a dead cookie.
 */
export function endingNotice(
  config: Config,
  store: SessionStore,
  now: () => number,
  onExpiry: ((limit: "idle" | "absolute") => void) | undefined,
  cookie: { cookieName: string; clear: (res: Response, req: Request) => void },
): RequestHandler {
  return (req, res, next) => {
    if (!cameWithDeadCookie(req, res)) return next();
    // No stored session answers the cookie: the browser need not send it again (nothing is
    // stored in its place; a session this request starts sets its own cookie after this).
    cookie.clear(res, req);
    if (hasFlash(req)) return next();
    const sid = sentSessionId(req, cookie.cookieName, config.sessionSecrets);
    if (!sid) return next();
    store.takeEnding(handleOf(sid)).then((ending) => {
      const expiry = ending ? null : expiryOf(cookiesOf(req)[expiryCookieName(config)], config, now());
      if (expiry) onExpiry?.(expiry.limit);
      const message = ending ? endingMessage(ending, config.maxSessionsPerUser) : (expiry?.message ?? null);
      if (message) {
        setFlash(req, "info", message);
        clearExpiryCookie(res, config);
      }
      next();
    }, next);
  };
}
