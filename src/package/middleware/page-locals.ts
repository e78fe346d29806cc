import { formatDistanceToNow } from "date-fns";
import type { Request, RequestHandler } from "express";
import type { Csrf } from "./csrf";
import { takeFlash } from "./flash";

/**
 * What every page and the views need, in one step: private caching off, the CSRF token and
 * the one-time message as functions (so only pages that show them pay for them), the current
 * user, and whether the browser sent a session cookie (so a signed-in page can tell "your
 * session expired" from a first visit).
 */
export function pageLocals(cookieName: string, csrf: Csrf, needsPassword: (req: Request) => boolean): RequestHandler {
  const sentCookie = new RegExp(`(?:^|;\\s*)${cookieName.replace(/[^\w-]/g, "\\$&")}=`);
  return (req, res, next) => {
    // Pages carry per-session tokens and private data: no cache may keep them.
    res.setHeader("Cache-Control", "no-store");
    res.locals.hadSessionCookie = sentCookie.test(req.headers.cookie ?? "");
    res.locals.csrfToken = () => csrf.tokenFor(req, res);
    res.locals.flash = () => takeFlash(req);
    res.locals.currentUser = req.user ?? null;
    res.locals.path = req.path;
    res.locals.signInNotice = signInNotice(req, needsPassword);
    next();
  };
}

/**
 * A sign-in on another device since this session began, not yet dismissed here. It arrives
 * with the account snapshot the session already reads: no extra read per page.
 */
function signInNotice(req: Request, needsPassword: (req: Request) => boolean) {
  const notice = req.user && req.session.user?.signIn;
  if (!notice || notice.session === req.user!.sessionHandle) return null;
  if (notice.at <= (req.session.createdAt ?? 0) || req.session.noticeSeen === notice.at) return null;
  return {
    device: notice.device,
    ip: notice.ip,
    ago: formatDistanceToNow(Math.min(notice.at, Date.now()), { addSuffix: true }),
    // The session it is about: "Not you? End that session" right in the notice.
    session: notice.session,
    askPassword: needsPassword(req),
  };
}
