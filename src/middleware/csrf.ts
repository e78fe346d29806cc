import { doubleCsrf } from "csrf-csrf";
import { csrfSync } from "csrf-sync";
import type { Request, RequestHandler, Response } from "express";
import { cookiesOf } from "./client-info";

/** Where a form or a script sends its token: the `_csrf` field, or the X-CSRF-Token header. */
function tokenOf(req: Request): string | undefined {
  const field = (req.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof field === "string") return field;
  const header = req.get("x-csrf-token");
  return typeof header === "string" ? header : undefined;
}

/** A session that keeps state: signed in, or already holding a synchronizer token. */
function hasStoredSession(req: Request): boolean {
  return req.session?.userId !== undefined || req.session?.csrfToken !== undefined;
}

export interface Csrf {
  /** Checks every unsafe method (POST, DELETE, ...) before any route sees it. */
  protection: RequestHandler;
  /** The token for this request's forms. */
  tokenFor(req: Request, res: Response): string;
}

/**
 * Anti-forgery tokens on every state change, by one of two patterns:
 *
 * - A signed-in session (or one that already holds a token) uses synchronizer tokens kept in
 *   the session (csrf-sync), the stronger pattern, checked on every POST.
 * - A visitor with no stored session (the sign-in and sign-up forms) gets a signed
 *   double-submit token (csrf-csrf): an HMAC with the session secret in a cookie of its own,
 *   repeated in the form. Showing those forms then stores nothing, so cookieless page views
 *   cannot fill Redis; the cookie is `__Host-` prefixed in production, `SameSite=Strict` and
 *   ends with the browser.
 *
 * The pattern follows from the request's session, the same on the page and on its POST; a
 * forged POST cannot pick the weaker one, since a victim's browser sends its session cookie.
 */
export function csrfProtection(secrets: string[], production: boolean): Csrf {
  const sync = csrfSync({ size: 16, getTokenFromRequest: tokenOf }); // 128 bits, as hex
  const double = doubleCsrf({
    getSecret: () => secrets,
    // A visitor has no session to bind the token to; the HMAC binds it to this site's secret.
    getSessionIdentifier: () => "visitor",
    cookieName: production ? "__Host-csrf" : "csrf",
    cookieOptions: { sameSite: "strict", path: "/", secure: production, httpOnly: true },
    size: 16,
    getCsrfTokenFromRequest: tokenOf,
    errorConfig: { statusCode: 403, message: "invalid csrf token", code: "EBADCSRFTOKEN" },
  });
  return {
    protection: (req, res, next) => {
      if (hasStoredSession(req)) return sync.csrfSynchronisedProtection(req, res, next);
      cookiesOf(req);
      double.doubleCsrfProtection(req, res, next);
    },
    tokenFor: (req, res) => {
      if (hasStoredSession(req)) return sync.generateToken(req);
      cookiesOf(req);
      return double.generateCsrfToken(req, res);
    },
  };
}
