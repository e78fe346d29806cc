import type { RequestHandler } from "express";
import { csrfTokenFor } from "./csrf";
import { takeFlash } from "./flash";

/**
 * What every page and the views need, in one step: private caching off, the CSRF token and
 * the one-time message as functions (so only pages that show them pay for them), the current
 * user, and whether the browser sent a session cookie (so a signed-in page can tell "your
 * session expired" from a first visit).
 */
export function pageLocals(cookieName: string): RequestHandler {
  const sentCookie = new RegExp(`(?:^|;\\s*)${cookieName.replace(/[^\w-]/g, "\\$&")}=`);
  return (req, res, next) => {
    // Pages carry per-session tokens and private data: no cache may keep them.
    res.setHeader("Cache-Control", "no-store");
    res.locals.hadSessionCookie = sentCookie.test(req.headers.cookie ?? "");
    res.locals.csrfToken = () => csrfTokenFor(req);
    res.locals.flash = () => takeFlash(req);
    res.locals.currentUser = req.user ?? null;
    res.locals.path = req.path;
    next();
  };
}
