import { doubleCsrf } from "csrf-csrf";
import { csrfSync } from "csrf-sync";
import type { Request, RequestHandler, Response } from "express";
import { markOwn } from "../own-errors";
import { peekState, stateOf } from "../session-store/session-store";
import { cookiesOf } from "./client-info";

/** Where a form or a script sends its token: the `_csrf` field, or the X-CSRF-Token header. */
function tokenOf(req: Request): string | undefined {
  const field = (req.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof field === "string") return field;
  const header = req.get("x-csrf-token");
  return typeof header === "string" ? header : undefined;
}

type WithSiteToken = Request & { csrfToken?: unknown };

/**
 * The site's own CSRF middleware (csurf, csrf-sync, csrf-csrf, lusca) ran in front of this
 * request: it leaves `req.csrfToken()` behind, and has checked an unsafe request's token
 * already. Its token is then the one the package's forms carry: two checks that each want their
 * own token in the one `_csrf` field would refuse every form.
 */
function siteChecks(req: Request): boolean {
  return typeof (req as WithSiteToken).csrfToken === "function";
}

/** A session that keeps state: signed in, or already holding a synchronizer token. */
function hasStoredSession(req: Request): boolean {
  return peekState(req.session)?.userId !== undefined || peekState(req.session)?.csrfToken !== undefined;
}

export interface Csrf {
  /** Checks every unsafe method (POST, DELETE, ...) before any route sees it. */
  protection: RequestHandler;
  /** The token for this request's forms. */
  tokenFor(req: Request, res: Response): string;
}

/** A signed-out form's token is good in the hour it was issued and the next: at most two hours. */
const VISITOR_TOKEN_PERIOD_MS = 3600 * 1000;
const PERIOD = Symbol("csrf period");
type WithPeriod = Request & { [PERIOD]?: number };

/**
 * Anti-forgery tokens on every state change, by one of two patterns:
 *
 * - A signed-in session (or one that already holds a token) uses synchronizer tokens kept in
 *   the session (csrf-sync), the stronger pattern, checked on every POST.
 * - A visitor with no stored session (the sign-in and sign-up forms) gets a signed
 *   double-submit token (csrf-csrf): an HMAC with the session secret in a cookie of its own,
 *   repeated in the form. Showing those forms then stores nothing, so cookieless page views
 *   cannot fill Redis. The HMAC covers the hour it was issued in, and a token is refused once
 *   the next hour is over, so a pair obtained once (and planted in a victim's browser for a
 *   login CSRF) does not work for ever. The cookie is `__Host-` prefixed whenever the request
 *   came over HTTPS (always in production), `SameSite=Strict`, and lasts two hours at most.
 *
 * The pattern follows from the request's session, the same on the page and on its POST; a
 * forged POST cannot pick the weaker one, since a victim's browser sends its session cookie.
 */
export function csrfProtection(secrets: string[], production: boolean, now: () => number = Date.now): Csrf {
  const sync = csrfSync({
    size: 16, // 128 bits, as hex
    getTokenFromRequest: tokenOf,
    // In the package's part of the session: a site's own csrf-sync keeps its token apart.
    getTokenFromState: (req) => peekState(req.session)?.csrfToken,
    storeTokenInState: (req, token) => {
      stateOf(req.session).csrfToken = token ?? undefined;
    },
  });
  const visitor = (secure: boolean) =>
    doubleCsrf({
      getSecret: () => secrets,
      // A visitor has no session to bind the token to; the HMAC binds it to this site's secret and its hour.
      getSessionIdentifier: (req) => `visitor:${(req as WithPeriod)[PERIOD] ?? periodOf(now())}`,
      cookieName: secure ? "__Host-csrf" : "csrf",
      cookieOptions: { sameSite: "strict", path: "/", secure, httpOnly: true, maxAge: 2 * VISITOR_TOKEN_PERIOD_MS },
      size: 16,
      getCsrfTokenFromRequest: tokenOf,
      errorConfig: { statusCode: 403, message: "invalid csrf token", code: "EBADCSRFTOKEN" },
    });
  const overHttps = visitor(true);
  const plain = visitor(false);
  const doubleFor = (req: Request) => (production || req.secure ? overHttps : plain);
  return {
    protection: (req, res, next) => {
      // Pages read nothing to check (the forms' token is res.locals.csrfToken()).
      if (SAFE_METHODS.has(req.method) || siteChecks(req)) return next();
      if (hasStoredSession(req)) return sync.csrfSynchronisedProtection(req, res, (err?: unknown) => next(markOwn(err)));
      cookiesOf(req);
      const double = doubleFor(req);
      const current = periodOf(now());
      // This hour's token, or the last hour's: never older.
      for (const period of [current, current - 1]) {
        (req as WithPeriod)[PERIOD] = period;
        if (double.validateRequest(req)) {
          delete (req as WithPeriod)[PERIOD];
          return next();
        }
      }
      delete (req as WithPeriod)[PERIOD];
      next(markOwn(double.invalidCsrfTokenError));
    },
    tokenFor: (req, res) => {
      if (siteChecks(req)) return String((req as WithSiteToken & { csrfToken(): unknown }).csrfToken());
      if (hasStoredSession(req)) return sync.generateToken(req);
      cookiesOf(req);
      // A cookie from an earlier hour is replaced; this hour's is kept, so tabs share one.
      return doubleFor(req).generateCsrfToken(req, res);
    },
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function periodOf(ms: number): number {
  return Math.floor(ms / VISITOR_TOKEN_PERIOD_MS);
}
