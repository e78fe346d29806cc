import type { Request, RequestHandler, Response } from "express";
import { hasFlash, setFlash } from "./flash";
import { cameWithDeadCookie } from "./page-locals";

export interface AuthGuards {
  /** Signed-out visitors go to the sign-in page and come back; scripts get 401 JSON. */
  requireAuth: RequestHandler;
  /** Signed in, but without one of these roles: 403. */
  requireRole(...roles: string[]): RequestHandler;
}

/** Whether the request is a script's (the JSON API): it gets JSON errors rather than pages. */
export function wantsJson(req: Request, res: Response): boolean {
  return res.locals.jsonApi === true || req.originalUrl.startsWith("/api/");
}

/**
 * The guards, sending visitors to `signInPath`; `forbidden` answers a page that the role does
 * not allow. With `returnTo` (a site that keeps its own sign-in), the page asked for is also
 * left in `req.session.returnTo`, where connect-ensure-login and Passport's
 * `successReturnToOrRedirect` look for it.
 */
export function authGuards(signInPath: string, forbidden: (req: Request, res: Response) => void, returnTo = false): AuthGuards {
  const requireAuth: RequestHandler = (req, res, next) => {
    if (req.sessionUser) return next();
    if (wantsJson(req, res)) {
      res.status(401).json({ error: "not_signed_in", message: "Sign in first: this API uses the same cookie session as the pages." });
      return;
    }
    if (cameWithDeadCookie(req, res) && !hasFlash(req)) {
      setFlash(req, "info", "Your session expired, please sign in again.");
    }
    const back = req.method === "GET" ? `?next=${encodeURIComponent(req.originalUrl)}` : "";
    if (returnTo && back && req.session) (req.session as { returnTo?: string }).returnTo = req.originalUrl;
    res.redirect(303, `${signInPath}${back}`);
  };
  const requireRole =
    (...roles: string[]): RequestHandler =>
    (req, res, next) => {
      if (!req.sessionUser) return requireAuth(req, res, next);
      if (roles.includes(req.sessionUser.role)) return next();
      if (wantsJson(req, res)) {
        res.status(403).json({ error: "forbidden", message: "Your account's role does not allow this." });
        return;
      }
      forbidden(req, res);
    };
  return { requireAuth, requireRole };
}
