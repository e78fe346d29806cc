import { csrfSync } from "csrf-sync";
import type { RequestHandler } from "express";

/**
 * Synchronizer tokens kept in the session, checked on every POST (and any other unsafe method).
 * Forms send `_csrf`; scripts may send the X-CSRF-Token header instead.
 */
const { csrfSynchronisedProtection, generateToken } = csrfSync({
  size: 24,
  getTokenFromRequest: (req) => {
    const field = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof field === "string") return field;
    const header = req.get("x-csrf-token");
    return typeof header === "string" ? header : undefined;
  },
});

export const csrfProtection: RequestHandler = csrfSynchronisedProtection;

/** Views call csrfToken() inside forms; a page without a form never creates a token. */
export const csrfLocals: RequestHandler = (req, res, next) => {
  res.locals.csrfToken = () => generateToken(req);
  next();
};
