import { doubleCsrf } from "csrf-csrf";
import { csrfSync } from "csrf-sync";
import type { Request, RequestHandler, Response } from "express";
import { markOwn } from "../own-errors";
import { peekState, stateOf } from "../session-store/session-store";
import { cookiesOf } from "./client-info";

/**
 * The package's own token, in a field and a header of its own: a site whose own CSRF check
 * reads `_csrf` and X-CSRF-Token gets its token there, and the package checks its own beside it.
 */
export const OWN_FIELD = "_sessions_csrf";
const OWN_HEADER = "x-sessions-csrf-token";

/**
 * Where the package's token may come: its own field or header, or `_csrf` and X-CSRF-Token
 * (where a site with no check of its own sends it). Each is tried; only the package's token
 * passes, so reading more places lets nothing else through.
 */
function candidatesOf(req: Request): string[] {
  const body = req.body as Record<string, unknown> | undefined;
  const found = [body?.[OWN_FIELD], req.get(OWN_HEADER), body?._csrf, req.get("x-csrf-token")];
  return found.filter((t): t is string => typeof t === "string" && t !== "");
}

type WithSiteToken = Request & { csrfToken?: unknown };

/**
 * The site has a CSRF middleware of its own (csurf, csrf-sync, csrf-csrf, lusca) in front of
 * this request: it leaves `req.csrfToken()` behind, and its token goes in `_csrf`, where its
 * check reads it. That is no proof its check ran (csurf's `ignoreMethods`, a `skipCsrfProtection`,
 * or a helper that checks nothing), so the package's own token rides beside it and is always
 * checked.
 */
function siteHasToken(req: Request): boolean {
  return typeof (req as WithSiteToken).csrfToken === "function";
}

/** A session that keeps state: signed in, or already holding a synchronizer token. */
function hasStoredSession(req: Request): boolean {
  return peekState(req.session)?.userId !== undefined || peekState(req.session)?.csrfToken !== undefined;
}

export interface Csrf {
  /** Checks every unsafe method (POST, DELETE, ...) before any route sees it. */
  protection: RequestHandler;
  /** The token for this request's forms, in `_csrf`: the site's own when it has a CSRF middleware, otherwise the package's. */
  tokenFor(req: Request, res: Response): string;
  /** The package's own token, for OWN_FIELD (or the X-Sessions-CSRF-Token header), when `_csrf` holds the site's; otherwise null. */
  ownTokenFor(req: Request, res: Response): string | null;
}

/** A signed-out form's token is good in the hour it was issued and the next: at most two hours. */
const VISITOR_TOKEN_PERIOD_MS = 3600 * 1000;
const PERIOD = Symbol("csrf period");
/** The candidate token a check reads on this try (candidatesOf). */
const CANDIDATE = Symbol("csrf candidate");
type WithPeriod = Request & { [PERIOD]?: number; [CANDIDATE]?: string };
const candidate = (req: Request) => (req as WithPeriod)[CANDIDATE];

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
    getTokenFromRequest: candidate,
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
      getCsrfTokenFromRequest: candidate,
      errorConfig: { statusCode: 403, message: "invalid csrf token", code: "EBADCSRFTOKEN" },
    });
  const overHttps = visitor(true);
  const plain = visitor(false);
  const doubleFor = (req: Request) => (production || req.secure ? overHttps : plain);
  return {
    protection: (req, _res, next) => {
      // Pages read nothing to check (the forms' token is res.locals.csrfToken()).
      if (SAFE_METHODS.has(req.method)) return next();
      const stored = hasStoredSession(req);
      if (!stored) cookiesOf(req);
      const double = doubleFor(req);
      const current = periodOf(now());
      const r = req as WithPeriod;
      const verifies = (token: string): boolean => {
        r[CANDIDATE] = token;
        if (stored) return sync.isRequestValid(req);
        // This hour's token, or the last hour's: never older.
        return [current, current - 1].some((period) => {
          r[PERIOD] = period;
          return double.validateRequest(req);
        });
      };
      const valid = candidatesOf(req).some(verifies);
      delete r[CANDIDATE];
      delete r[PERIOD];
      if (valid) return next();
      next(markOwn(stored ? sync.invalidCsrfTokenError : double.invalidCsrfTokenError));
    },
    tokenFor: (req, res) => (siteHasToken(req) ? String((req as WithSiteToken & { csrfToken(): unknown }).csrfToken()) : ownToken(req, res)),
    ownTokenFor: (req, res) => (siteHasToken(req) ? ownToken(req, res) : null),
  };

  function ownToken(req: Request, res: Response): string {
    if (hasStoredSession(req)) return sync.generateToken(req);
    cookiesOf(req);
    // A cookie from an earlier hour is replaced; this hour's is kept, so tabs share one.
    return doubleFor(req).generateCsrfToken(req, res);
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function periodOf(ms: number): number {
  return Math.floor(ms / VISITOR_TOKEN_PERIOD_MS);
}
