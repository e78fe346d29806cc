import { formatDistanceToNow } from "date-fns";
import type { Request, RequestHandler, Response } from "express";
import { peekState } from "../session-store/session-store";
import type { Csrf } from "./csrf";
import { seriesOf } from "./current-user";
import { takeFlash } from "./flash";

export interface PageLocals {
  /** Whether the browser sent a session cookie (so a page can tell "your session expired" from a first visit). */
  sessionCookie: RequestHandler;
  /**
   * For a site the package signs in: on every page, private caching off, the CSRF token and
   * the one-time message as functions (so only pages that show them pay for them), the
   * current user, the sign-in notice, and whether the browser sent a session cookie.
   */
  everyPage: RequestHandler;
  /**
   * For a site that keeps its own sign-in: only what its layout may show, `flash()` and
   * `signInNotice`. The site's caching, its `csrfToken` and its
   * `currentUser` stay its own.
   */
  siteLayout: RequestHandler;
}

/**
 * Pages carry per-session tokens and private data: no cache may keep them (no-store), and a
 * browser that keeps its history anyway asks the server again before showing one (no-cache:
 * lynx shows a page from its history under no-store alone, after sign-out too). Pragma and
 * Expires say the same to HTTP/1.0 caches.
 */
export function forbidCaching(res: Response): void {
  res.setHeader("Cache-Control", "no-store, no-cache");
  res.setHeader("Pragma", "no-cache");
  res.setHeader("Expires", "0");
}

/**
 * The browser sent a session cookie that no stored session answered: it expired or was ended.
 * A session the package moved to a new id on this request (a role change) is not stored yet
 * either, but it is signed in: that is no ending.
 */
export function cameWithDeadCookie(req: Request, res: Response): boolean {
  if (!res.locals.hadSessionCookie || !req.session) return false;
  const state = peekState(req.session);
  return state?.createdAt === undefined && state?.userId === undefined;
}

export function pageLocals(cookieName: string, csrf: Csrf, needsPassword: (req: Request) => boolean): PageLocals {
  const sentCookie = new RegExp(`(?:^|;\\s*)${cookieName.replace(/[^\w-]/g, "\\$&")}=`);
  const markSessionCookie = (req: Request, res: Response) => {
    res.locals.hadSessionCookie = sentCookie.test(req.headers.cookie ?? "");
  };
  const layoutLocals = (req: Request, res: Response) => {
    res.locals.flash = () => takeFlash(req);
    res.locals.signInNotice = signInNotice(req, needsPassword);
  };
  const sessionCookie: RequestHandler = (req, res, next) => {
    markSessionCookie(req, res);
    next();
  };
  const siteLayout: RequestHandler = (req, res, next) => {
    layoutLocals(req, res);
    next();
  };
  const everyPage: RequestHandler = (req, res, next) => {
    forbidCaching(res);
    res.locals.csrfToken = () => csrf.tokenFor(req, res);
    res.locals.sessionsCsrfToken = () => csrf.ownTokenFor(req, res);
    res.locals.currentUser = req.sessionUser ?? null;
    res.locals.path = req.path;
    markSessionCookie(req, res);
    layoutLocals(req, res);
    next();
  };
  return { sessionCookie, everyPage, siteLayout };
}

/**
 * A sign-in on another device since this session began, not yet dismissed here. It arrives
 * with the account snapshot the session already reads: no extra read per page.
 */
function signInNotice(req: Request, needsPassword: (req: Request) => boolean) {
  const notice = req.sessionUser && peekState(req.session)?.user?.signIn;
  if (!notice || notice.session === seriesOf(req)) return null;
  if (notice.at <= (peekState(req.session)?.createdAt ?? 0) || peekState(req.session)?.noticeSeen === notice.at) return null;
  return {
    device: notice.device,
    ip: notice.ip,
    ago: formatDistanceToNow(Math.min(notice.at, Date.now()), { addSuffix: true }),
    // The session it is about: "Not you? End that session" right in the notice.
    session: notice.session,
    askPassword: needsPassword(req),
  };
}
