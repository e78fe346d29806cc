import signature from "cookie-signature";
import type { RequestHandler } from "express";
import type { Config } from "../config";
import { handleOf } from "../session-store/session-record";
import type { Ending, SessionStore } from "../session-store/session-store";
import { formatTime } from "../sessions/format-time";
import { cookiesOf } from "./client-info";
import { setFlash } from "./flash";

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
  }
}

/**
 * A browser that sent a session cookie no stored session answered: when something ended that
 * session (another device, an administrator, a password change...), say so once, on this
 * page or the sign-in page it is sent to; the tombstone goes as it is read. Costs one read,
 * and only for requests with a dead cookie.
 */
export function endingNotice(config: Config, store: SessionStore): RequestHandler {
  return (req, res, next) => {
    if (!res.locals.hadSessionCookie || !req.session || req.session.createdAt !== undefined || req.session.flash) return next();
    const sent = cookiesOf(req)[config.cookieName];
    const signed = typeof sent === "string" && sent.startsWith("s:") ? sent.slice(2) : undefined;
    const sid = signed ? config.sessionSecrets.map((secret) => signature.unsign(signed, secret)).find((v) => v !== false) : undefined;
    if (!sid) return next();
    store.takeEnding(handleOf(sid)).then((ending) => {
      if (ending) setFlash(req, "info", endingMessage(ending, config.maxSessionsPerUser));
      next();
    }, next);
  };
}
