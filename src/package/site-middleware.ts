import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import { takeOnce } from "./auth/password-throttle";
import { ConfigError } from "./config";
import type { Metrics } from "./metric-types";
import { currentUser } from "./middleware/current-user";
import { setExpiryCookie } from "./middleware/ending-notice";
import { classifyError } from "./middleware/errors";
import { visitorFlashes } from "./middleware/flash";
import { inSequence } from "./middleware/in-sequence";
import { wantsJson } from "./middleware/require-auth";
import { clearSessionCookie, saveBeforeRedirect, sessionMiddleware } from "./middleware/session";
import { track } from "./middleware/track";
import { isOwn, markOwn } from "./own-errors";
import { isRedisUnavailable } from "./redis/unavailable";
import type { Parts } from "./session-parts";
import { peekState } from "./session-store/session-store";
import { accountLabel } from "./users/account";

/** `sessions.middleware()`: the session, rotation, the signed-in account, page locals, the ending notice and CSRF, for a site the package signs in. */
export function ownMiddleware(p: Parts): RequestHandler {
  const { userIdOf, warnOnce, startGate, redirects, config, store, rotation, identifyAs, locals, noticeOfEnding, csrf } = p;
  if (userIdOf) {
    throw new ConfigError(
      "sessions.middleware() is for sites that sign in with sessions.signIn. With `userIdOf`, use your own session({ store: sessions.store, ... }) and app.use(sessions.track()) after your authentication.",
    );
  }
  return ownErrors([
    warnOnce,
    startGate,
    redirects,
    sessionMiddleware(config, store),
    saveBeforeRedirect(store),
    visitorFlashes(config.tokenSecrets, config.production),
    ...(config.rotateInterval > 0 ? [rotation] : []),
    currentUser({ ...identifyAs, ownsCookie: true }),
    locals.everyPage,
    noticeOfEnding(config.cookieName, (res) => clearSessionCookie(res, config.cookieName)),
    csrf.protection,
  ]);
}

/** `sessions.track()`: follows a site's own sign-in (`userIdOf`) into the index, the activity and the pages' locals. */
export function trackingMiddleware(p: Parts): RequestHandler {
  const {
    userIdOf,
    warnOnce,
    startGate,
    isReady,
    config,
    store,
    activity,
    claims,
    throttle,
    alerts,
    alertsOn,
    metrics,
    now,
    backend,
    identifyAs,
    locals,
    noticeOfEnding,
    siteCookieName,
    redirects,
  } = p;
  if (!userIdOf) {
    throw new ConfigError("sessions.track() follows a site's own sign-in: pass `userIdOf` to createSessions (see docs/adopting.md).");
  }
  const clearSiteCookie = (res: Response, req: Request) => {
    const { path = "/", domain, secure, sameSite, httpOnly } = req.session?.cookie ?? {};
    res.clearCookie(siteCookieName, { path, domain, secure: secure === true, sameSite, httpOnly });
  };
  const tracking = ownErrors([
    warnOnce,
    redirects,
    visitorFlashes(config.tokenSecrets, config.production),
    locals.sessionCookie,
    // A dead cookie of the site's is told before the session may move to a new id, and
    // cleared as the site set it (its path and domain).
    noticeOfEnding(siteCookieName, clearSiteCookie),
    track({
      userIdOf,
      identify: { ...identifyAs, ownsCookie: false },
      store,
      activity,
      claim: (key) => takeOnce(claims, key),
      onSignedIn: (req, moved) => {
        const state = peekState(req.session);
        const account = state?.user;
        if (!req.res || !account || !state.userId) return;
        const label = accountLabel(state.userId, account.email);
        // A session moved from connect-redis is no sign-in: its browser is a known device, and nobody is told.
        if (!moved && throttle.devices.knownDevice(req, label, account.cv) === null && alertsOn)
          alerts.newDevice(req, { id: state.userId, email: account.email, credentialVersion: account.cv });
        throttle.devices.remember(req, req.res, label, account.cv);
        setExpiryCookie(req.res, config, moved ? (state.signedInAt ?? now()) : now(), state.persistent === true);
        if (!moved) metrics?.created.inc();
      },
      legacy: backend.legacy && {
        store,
        secrets: config.tokenSecrets,
        graceMs: config.rotateGrace * 1000,
        retire: (oldId) => backend.legacy!.retire(oldId, config.rotateGrace * 1000),
      },
      clearCookie: clearSiteCookie,
      onSignedOut: () => metrics?.ended.inc({ reason: "sign_out" }),
    }),
    locals.siteLayout,
  ]);
  // A signed-in request of the site's own routes waits for the start REDIS_TIMEOUT at most,
  // then goes on without the package; the package's own routes answer 503.
  return (req, res, next) => {
    // Nobody signed in yet: the page need not wait for the start (a sign-in on this request
    // reaches the store when it is saved, and waits there within the bound).
    if (!isReady() && !userIdOf(req)) return tracking(req, res, next);
    startGate(req, res, (err?: unknown) => (err ? next() : tracking(req, res, next)));
  };
}

/** `sessions.errorHandler()`: answers what the package raised, and passes everything else on. */
export function ownErrorHandler(metrics: Metrics | undefined): ErrorRequestHandler {
  return (err, req, res, next) => {
    // The site's 404s, its own CSRF refusals, its body parser's errors: its own handler's.
    if (!isOwn(err)) return next(err);
    const { status, message, code } = classifyError(err);
    if (status >= 500 && status !== 503) return next(err);
    if (res.headersSent) return next(err);
    res.status(status);
    if (status === 503) res.set("Retry-After", "5");
    if (status === 503 && isRedisUnavailable(err)) metrics?.unavailable.inc();
    if (wantsJson(req, res)) res.json({ error: code, message });
    else res.type("text").send(message);
  };
}

/** The package's middleware as one, its errors marked as its own (own-errors.ts). */
function ownErrors(steps: RequestHandler[]): RequestHandler {
  const sequence = inSequence(steps);
  return (req, res, next) => sequence(req, res, (err?: unknown) => next(markOwn(err)));
}

/** Ends the package's routers: what went wrong inside them is the package's to answer. */
export const markErrors: ErrorRequestHandler = (err, _req, _res, next) => next(markOwn(err));
