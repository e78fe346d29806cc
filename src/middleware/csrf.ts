import { csrfSync } from "csrf-sync";
import type { Request, RequestHandler } from "express";

/**
 * Synchronizer tokens kept in the session, checked on every POST (and any other unsafe method).
 * Forms send `_csrf`; scripts may send the X-CSRF-Token header instead.
 */
const { csrfSynchronisedProtection, generateToken } = csrfSync({
  size: 16, // 128 bits, as hex
  getTokenFromRequest: (req) => {
    const field = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof field === "string") return field;
    const header = req.get("x-csrf-token");
    return typeof header === "string" ? header : undefined;
  },
});

export const csrfProtection: RequestHandler = csrfSynchronisedProtection;

/** The session's token, made on first use: a page without a form never creates one. */
export const csrfTokenFor = (req: Request): string => generateToken(req);
