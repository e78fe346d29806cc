import type { RequestHandler } from "express";
import type { Role } from "../users/account";
import { setFlash } from "./flash";

/** Signed-out visitors go to the sign-in page and come back; scripts under /api/ get 401 JSON. */
export const requireAuth: RequestHandler = (req, res, next) => {
  if (req.user) return next();
  if (req.originalUrl.startsWith("/api/")) {
    res.status(401).json({ error: "not_signed_in", message: "Sign in first: this API uses the same cookie session as the pages." });
    return;
  }
  // The browser sent a cookie, but no stored session answered it: it expired or was ended.
  if (res.locals.hadSessionCookie && req.session && req.session.createdAt === undefined && !req.session.flash) {
    setFlash(req, "info", "Your session expired, please sign in again.");
  }
  const back = req.method === "GET" ? `?next=${encodeURIComponent(req.originalUrl)}` : "";
  res.redirect(303, `/login${back}`);
};

/** Signed in, but without one of these roles: 403 with the Unauthorized page. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, res, next) => {
    if (!req.user) return requireAuth(req, res, next);
    if (roles.includes(req.user.role)) return next();
    if (req.originalUrl.startsWith("/api/")) {
      res.status(403).json({ error: "forbidden", message: "Your account's role does not allow this." });
      return;
    }
    res.status(403).render("unauthorized", { title: "Not allowed" });
  };
}
