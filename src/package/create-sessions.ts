import { Router } from "express";
import { takeOnce } from "./auth/password-throttle";
import { ConfigError } from "./config";
import { closeRedis } from "./redis/connect";
import { type Parts, partsOf } from "./session-parts";
import { sessionVerbs, signInVerbs } from "./session-verbs";
import { sessionApi } from "./sessions/session-api";
import { packageStylesheet, sessionPages } from "./sessions/session-pages";
import { markErrors, ownErrorHandler, ownMiddleware, trackingMiddleware } from "./site-middleware";
import { start } from "./start";
import type { Sessions, SessionsOptions } from "./surface";

/**
 * Sessions for a site that has its own accounts, sign-in form and layout: opaque cookies,
 * sessions indexed per account so people can see and end them, and the pages to do it.
 * Returns at once: connecting to Redis and loading the location data happen behind it
 * (`ready()`), and a request that needs them meanwhile waits REDIS_TIMEOUT at most, then
 * gets a 503. Checks its options at once: a mistake fails the start, not the first request.
 */
export function createSessions(options: SessionsOptions): Sessions {
  checkOptions(options);
  const p = partsOf(options, start(options));
  const { config, store, activity, csrf, throttle, checks, metrics, now, locate, mail, links, usedLinks, startGate, backend } = p;
  const migration = legacyMigration(p);
  const sessions: Sessions = {
    ...p.guards,
    keepsSiteSignIn: p.userIdOf !== undefined,
    store,
    activity,
    csrf,
    throttle,
    passwordChecks: checks,
    config,
    metrics,
    signInPath: options.signInPath ?? "/login",
    now,
    locate,
    middleware: () => ownMiddleware(p),
    track: () => trackingMiddleware(p),
    ...signInVerbs(p),
    renewSession: (req) => checks.renewSession(req),
    ...sessionVerbs(p),
    // The stylesheet needs no Redis: it is served before the start gate.
    router: (pageOptions = {}) =>
      Router().use(
        packageStylesheet(),
        startGate,
        p.redirects,
        sessionPages(sessions, pageOptions, { accounts: p.accounts, setPassword: options.setPassword, passwordRules: options.passwordRules }),
        markErrors,
      ),
    mail,
    links: {
      make: (kind, userId, { session = "", version } = {}) => links.make(kind, userId, session, now(), version),
      read: (token, kind) => links.read(token, kind, now()),
      used: async (claims) => ((await usedLinks.get?.(claims.nonce))?.totalHits ?? 0) > 0,
      take: (claims) => takeOnce(usedLinks, claims.nonce),
    },
    errorHandler: () => ownErrorHandler(metrics),
    apiRouter: () => Router().use(startGate, sessionApi(sessions), markErrors),
    ready: () => p.ready,
    bounded: (work) => backend.bound(work),
    migrateLegacySessions: migration.run,
    rateLimitStore: backend.rateLimitStore,
    async close() {
      migration.stop();
      mail.close();
      await backend.close();
      await store.close();
      const { owned } = p;
      if (owned) {
        // Still connecting (Redis never answered): there is nothing to close gracefully.
        if (owned.isReady) await closeRedis(owned);
        else owned.destroy();
      }
    },
  };
  return sessions;
}

/** The options a site passes, checked at once: a mistake fails the start, not the first request. */
function checkOptions(options: SessionsOptions): void {
  const { accounts, userIdOf } = options;
  if (!accounts || typeof accounts.findById !== "function" || typeof accounts.verifyPassword !== "function") {
    throw new ConfigError("createSessions: `accounts` must have findById(id) and verifyPassword(id, password), both returning promises.");
  }
  if (userIdOf !== undefined && typeof userIdOf !== "function") {
    throw new ConfigError("createSessions: `userIdOf` must be a function of the request that returns the signed-in user's id, or nothing.");
  }
  if (options.legacy !== undefined && userIdOf === undefined) {
    throw new ConfigError("createSessions: `legacy` (moving from connect-redis) is for a site that keeps its own sign-in: pass `userIdOf` too.");
  }
  if (options.legacy?.userIdOf !== undefined && typeof options.legacy.userIdOf !== "function") {
    throw new ConfigError(
      "createSessions: `legacy.userIdOf` must be a function of a session as connect-redis kept it, e.g. (session) => session.passport?.user.",
    );
  }
}

/**
 * Every session connect-redis kept is the account's from the start (`legacy.userIdOf`): walked
 * in the background once Redis answers, unless the site runs it itself; stopped at close.
 */
function legacyMigration(p: Parts): { run: Sessions["migrateLegacySessions"]; stop(): void } {
  const { options, backend, warn } = p;
  let closing = false;
  const run: Sessions["migrateLegacySessions"] = (given = {}) =>
    backend.legacy ? backend.legacy.migrate({ ...given, stop: () => closing }) : Promise.resolve({ scanned: 0, moved: 0, indexed: 0, skipped: 0, done: true });
  if (options.legacy?.userIdOf && options.legacy.migrate !== false) {
    p.ready
      .then(() => run())
      .then(
        (done) => options.events?.legacyMigrated?.(done),
        (err: Error) =>
          warn(`Moving connect-redis's sessions stopped (${err.message}); the next start resumes it, and each session still moves at its first request.`),
      );
  }
  return {
    run,
    stop: () => {
      closing = true;
    },
  };
}
