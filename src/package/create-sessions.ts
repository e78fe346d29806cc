import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { type ErrorRequestHandler, type Request, type RequestHandler, Router } from "express";
import type { RedisClientType } from "redis";
import { recordActivity } from "./activity/record";
import { DeviceCookies } from "./auth/device-cookie";
import { openCounter, PasswordThrottle, takeOnce } from "./auth/password-throttle";
import { safeNext } from "./auth/safe-next";
import { announceSignIn, startSession } from "./auth/sign-in";
import { type Config, ConfigError, loadConfig, usesRedis } from "./config";
import { LINK_LIFETIMES_MS, MailLinks } from "./mail/mail-links";
import { openMailQueue } from "./mail/mail-queue";
import { signInAlerts } from "./mail/sign-in-alert";
import { watchCache } from "./metrics";
import { absoluteRedirects } from "./middleware/absolute-redirects";
import { csrfProtection } from "./middleware/csrf";
import { currentUser, deviceNameOf, nameNewId, refreshSession, regenerate, seriesOf } from "./middleware/current-user";
import { clearExpiryCookie, endingNotice, sentSessionId, setExpiryCookie } from "./middleware/ending-notice";
import { classifyError } from "./middleware/errors";
import { visitorFlashes } from "./middleware/flash";
import { inSequence } from "./middleware/in-sequence";
import { pageLocals } from "./middleware/page-locals";
import { authGuards, wantsJson } from "./middleware/require-auth";
import { sessionRotation } from "./middleware/rotation";
import { clearSessionCookie, saveBeforeRedirect, sessionMiddleware } from "./middleware/session";
import { track } from "./middleware/track";
import { isOwn, markOwn } from "./own-errors";
import { withinBound } from "./redis/bounded-client";
import { closeRedis, createConfiguredRedis, createRedis } from "./redis/connect";
import { isRedisUnavailable } from "./redis/unavailable";
import { openSessionBackend } from "./session-backend";
import { peekState, stateOf } from "./session-store/session-store";
import { endOtherSessions, endSession } from "./sessions/end-sessions";
import { type Locate, openLocator } from "./sessions/location";
import { passwordChecks } from "./sessions/password-checks";
import { sessionApi } from "./sessions/session-api";
import { PENDING_SIGN_IN_MS, sessionPages } from "./sessions/session-pages";
import type { Sessions, SessionsOptions } from "./surface";
import { accountLabel, type SessionAccount, snapshotOf } from "./users/account";

const WAITED_FOR_START = Symbol("waited for the start");

/** How long a session's wrong passwords (entered to confirm actions) are remembered. */
const SESSION_FAILURES_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Sessions for a site that has its own accounts, sign-in form and layout: opaque cookies,
 * sessions indexed per account so people can see and end them, and the pages to do it.
 * Returns at once: connecting to Redis and loading the location data happen behind it
 * (`ready()`), and a request that needs them meanwhile waits REDIS_TIMEOUT at most, then
 * gets a 503. Checks its options at once: a mistake fails the start, not the first request.
 */
export function createSessions(options: SessionsOptions): Sessions {
  const { accounts } = options;
  if (!accounts || typeof accounts.findById !== "function" || typeof accounts.verifyPassword !== "function") {
    throw new ConfigError("createSessions: `accounts` must have findById(id) and verifyPassword(id, password), both returning promises.");
  }
  const { userIdOf } = options;
  if (userIdOf !== undefined && typeof userIdOf !== "function") {
    throw new ConfigError("createSessions: `userIdOf` must be a function of the request that returns the signed-in user's id, or nothing.");
  }
  if (options.legacy !== undefined && userIdOf === undefined) {
    throw new ConfigError("createSessions: `legacy` (moving from connect-redis) is for a site that keeps its own sign-in: pass `userIdOf` too.");
  }
  const { config, owned, backend, locate, ready, isReady, startGate } = start(options);
  const now = options.now ?? Date.now;
  const { metrics } = options;

  const devices = new DeviceCookies(config.tokenSecrets, config.production ? "__Host-device" : "device", config.production);
  const throttle = new PasswordThrottle(config, backend.rateLimitStore, devices);
  // Counted in the store, so that every instance sees one count.
  const sessionFailures = openCounter(backend.rateLimitStore, "rl:session:", SESSION_FAILURES_WINDOW_MS);
  const claims = openCounter(backend.rateLimitStore, "rl:claim:", PENDING_SIGN_IN_MS);
  const csrf = csrfProtection(config.tokenSecrets, config.production, now);
  const { store, activity } = backend;
  const checks = passwordChecks({
    accounts,
    names: store,
    activity,
    throttle,
    sessionFailures,
    lifetime: config.lifetime,
    reauthWindow: config.reauthWindow,
    now,
    locate,
    ownsCookie: userIdOf === undefined,
    onOutcome: metrics ? (outcome) => metrics.reauth.inc({ outcome }) : undefined,
    onRenewed: (req, account) => {
      if (!req.res) return;
      setExpiryCookie(req.res, config, now(), peekState(req.session)?.persistent === true);
      // After a password change this device stays known: its token is for the new credentials.
      throttle.devices.remember(req, req.res, accountLabel(account.id, account.email), account.credentialVersion ?? 0);
    },
  });
  const guards = authGuards(
    options.signInPath ?? "/login",
    options.forbidden ??
      ((_req, res) => {
        res.status(403).type("text").send("Your account's role does not allow this.");
      }),
    userIdOf !== undefined,
  );

  const mail = openMailQueue(config, options.mail, options.events, metrics);
  // Sign-in alerts go to accounts with an email, unless the site turned them off.
  const alertsOn = options.alerts !== false;
  const links = new MailLinks(config.tokenSecrets);
  const alerts = signInAlerts({
    store,
    mail,
    links,
    now,
    notMeUrl: `${config.publicUrl}${options.pagesAt ?? "/account"}/sessions/not-me`,
    siteName: options.siteName ?? new URL(config.publicUrl).host,
    offersPassword: options.setPassword !== undefined,
  });
  // Each link works once: its nonce is taken in the store, seen by every instance.
  const usedLinks = openCounter(backend.rateLimitStore, "rl:link:", LINK_LIFETIMES_MS["not-me"]);

  /**
   * A new session for the account on this request, its device remembered and its sign-in told.
   * Resolves to the name this browser's device had when it last signed out of the account.
   */
  async function signInNow(req: Request, account: SessionAccount, remember: boolean): Promise<string | null> {
    const label = accountLabel(account.id, account.email);
    const known = throttle.devices.knownDevice(req, label, account.credentialVersion ?? 0) !== null;
    const keptName = throttle.devices.nameOf(req, label, account.credentialVersion ?? 0);
    await startSession(req, account, remember, config.lifetime, now(), locate);
    await announceSignIn(req, account, store, activity, now());
    if (!known && alertsOn) alerts.newDevice(req, account);
    if (req.res) {
      throttle.devices.remember(req, req.res, label, account.credentialVersion ?? 0);
      setExpiryCookie(req.res, config, now(), remember);
    }
    metrics?.created.inc();
    return keptName;
  }

  const identifyAs = { accounts, names: store, lifetime: config.lifetime, now, locate };
  // Stolen-cookie detection (SESSION_ROTATE_INTERVAL), for the sessions the package signs in.
  const rotation = sessionRotation({
    store,
    intervalMs: config.rotateInterval * 1000,
    graceMs: config.rotateGrace * 1000,
    secrets: config.tokenSecrets,
    now,
    sentId: (req) => sentSessionId(req, config.cookieName, config.sessionSecrets),
    claim: (key) => takeOnce(claims, key),
    async onStolen(req, userId, session, account) {
      await recordActivity(activity, userId, req, "session_stolen", { session });
      if (account && alertsOn) alerts.stolen(req, account);
    },
  });
  const siteCookieName = options.cookieName ?? "connect.sid";
  const locals = pageLocals(userIdOf ? siteCookieName : config.cookieName, csrf, (req) => checks.needsPassword(req));
  const noticeOfEnding = (cookieName: string, clear: Parameters<typeof endingNotice>[4]["clear"]) =>
    endingNotice(config, store, now, metrics ? (limit) => metrics.ended.inc({ reason: limit }) : undefined, { cookieName, clear });

  const redirects = absoluteRedirects(config.publicUrl);
  const sessions: Sessions = {
    ...guards,
    keepsSiteSignIn: userIdOf !== undefined,
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
    middleware: () => {
      if (userIdOf) {
        throw new ConfigError(
          "sessions.middleware() is for sites that sign in with sessions.signIn. With `userIdOf`, use your own session({ store: sessions.store, ... }) and app.use(sessions.track()) after your authentication.",
        );
      }
      return ownErrors([
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
    },
    track: () => {
      if (!userIdOf) {
        throw new ConfigError("sessions.track() follows a site's own sign-in: pass `userIdOf` to createSessions (see docs/adopting.md).");
      }
      const tracking = ownErrors([
        redirects,
        visitorFlashes(config.tokenSecrets, config.production),
        locals.sessionCookie,
        // A dead cookie of the site's is told before the session may move to a new id, and
        // cleared as the site set it (its path and domain).
        noticeOfEnding(siteCookieName, (res, req) => {
          const { path = "/", domain, secure, sameSite, httpOnly } = req.session?.cookie ?? {};
          res.clearCookie(siteCookieName, { path, domain, secure: secure === true, sameSite, httpOnly });
        }),
        track({
          userIdOf,
          identify: { ...identifyAs, ownsCookie: false },
          store,
          activity,
          claim: (key) => takeOnce(claims, key),
          onSignedIn: (req) => {
            const state = peekState(req.session);
            const account = state?.user;
            if (!req.res || !account || !state.userId) return;
            const label = accountLabel(state.userId, account.email);
            if (throttle.devices.knownDevice(req, label, account.cv) === null && alertsOn)
              alerts.newDevice(req, { id: state.userId, email: account.email, credentialVersion: account.cv });
            throttle.devices.remember(req, req.res, label, account.cv);
            setExpiryCookie(req.res, config, now(), peekState(req.session)?.persistent === true);
            metrics?.created.inc();
          },
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
    },
    async signIn(req, given, { remember = false, next: asked } = {}) {
      // A form's `next` is the visitor's to set: only a path on this site is followed.
      const next = safeNext(asked, "/");
      // The account as findById gives it, whatever object the site passed: the credential
      // version and role a session starts with are then the ones every later refresh reads.
      const account = (await accounts.findById(given.id)) ?? given;
      // Signing in again where the account is signed in already: the browser's session moves
      // to a new id, and its device keeps its name; it is no other device to make room for.
      const again = req.sessionUser?.id === String(account.id) ? req.sessionUser.sessionHandle : undefined;
      const name = again ? await deviceNameOf(store, req) : null;
      const others = again === undefined ? [] : [again];
      if (
        config.sessionLimitPolicy === "ask" &&
        (await store.listUserSessions(account.id)).filter((s) => !others.includes(s.handle)).length >= config.maxSessionsPerUser
      ) {
        // The password was right: an authentication step, so the browser gets a new id now
        // (a session id planted before it cannot complete this sign-in).
        await regenerate(req);
        stateOf(req.session).pendingSignIn = {
          userId: account.id,
          remember,
          at: now(),
          next,
          credVersion: account.credentialVersion ?? 0,
          claim: randomBytes(16).toString("base64url"),
          ...(name ? { name } : {}),
        };
        return "choose";
      }
      const keptName = await signInNow(req, account, remember);
      await nameNewId(store, req, name ?? keptName);
      return "signed-in";
    },
    async completeSignIn(req, beforeSignIn) {
      const pending = peekState(req.session)?.pendingSignIn;
      if (pending) delete stateOf(req.session).pendingSignIn;
      if (!pending || now() - pending.at > PENDING_SIGN_IN_MS) return false;
      const account = await accounts.findById(pending.userId);
      // A password change (or a disabled or deleted account) since the password was entered
      // voids the waiting sign-in: whoever entered it may be who the change was against.
      if (!account || account.disabled || (account.credentialVersion ?? 0) !== pending.credVersion) return false;
      // Once, whatever requests carry the same waiting sign-in at the same time.
      if (!(await takeOnce(claims, pending.claim))) return false;
      await beforeSignIn?.(account.id);
      const keptName = await signInNow(req, account, pending.remember);
      await nameNewId(store, req, pending.name ?? keptName);
      return true;
    },
    renewSession: (req) => checks.renewSession(req),
    async accountChanged(userId, req) {
      const account = await accounts.findById(userId);
      if (!account) {
        await store.endUserSessions(userId, undefined, { reason: "deleted", at: now() });
        return;
      }
      const snapshot = snapshotOf(account, now());
      await store.updateUserSnapshot(userId, snapshot);
      if (req?.sessionUser?.id === userId) stateOf(req.session).user = snapshot;
    },
    dismissSignInNotice(req) {
      const notice = peekState(req.session)?.user?.signIn;
      if (notice && peekState(req.session)!.noticeSeen !== notice.at) stateOf(req.session).noticeSeen = notice.at;
    },
    async signOut(req, res) {
      if (req.sessionUser) {
        await recordActivity(activity, req.sessionUser.id, req, "signed_out");
        metrics?.ended.inc({ reason: "sign_out" });
        // The device keeps its name for its next sign-in here (in the device cookie).
        const name = await deviceNameOf(store, req);
        const state = peekState(req.session);
        if (name && state?.user) throttle.devices.keepName(req, res, accountLabel(req.sessionUser.id, state.user.email), state.credVersion ?? 0, name);
      }
      await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      clearSessionCookie(res, config.cookieName);
      clearExpiryCookie(res, config);
      res.set("Clear-Site-Data", '"cookies"');
    },
    getUserSessions: (userId) => store.listUserSessions(userId),
    async revokeSession(req, handle, onBehalfOf) {
      if (onBehalfOf) return (await endSession(store, activity, req, onBehalfOf.userId, handle, onBehalfOf.by)) !== null;
      const ended = await endSession(store, activity, req, signedIn(req).id, handle);
      // The new-sign-in notice was about that session: it has been dealt with, everywhere.
      if (ended && peekState(req.session)?.user?.signIn?.session === ended.series) await sessions.accountChanged(signedIn(req).id, req);
      return ended !== null;
    },
    async revokeAllOtherSessions(req, onBehalfOf) {
      if (onBehalfOf) return endOtherSessions(store, activity, req, onBehalfOf.userId, undefined, onBehalfOf.by);
      const user = signedIn(req);
      const ended = await endOtherSessions(store, activity, req, user.id, user.sessionHandle);
      const notice = peekState(req.session)?.user?.signIn;
      if (notice && notice.session !== seriesOf(req)) await sessions.accountChanged(user.id, req);
      return ended;
    },
    async updateSessionActivity(req) {
      await refreshSession(req, accounts, config.lifetime, now(), locate);
    },
    router: (pageOptions = {}) =>
      Router().use(
        startGate,
        redirects,
        sessionPages(sessions, pageOptions, { accounts, setPassword: options.setPassword, passwordRules: options.passwordRules }),
        markErrors,
      ),
    mail,
    links: {
      make: (kind, userId, { session = "", version } = {}) => links.make(kind, userId, session, now(), version),
      read: (token, kind) => links.read(token, kind, now()),
      used: async (claims) => ((await usedLinks.get?.(claims.nonce))?.totalHits ?? 0) > 0,
      take: (claims) => takeOnce(usedLinks, claims.nonce),
    },
    errorHandler: () => (err, req, res, next) => {
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
    },
    apiRouter: () => Router().use(startGate, sessionApi(sessions), markErrors),
    ready: () => ready,
    rateLimitStore: backend.rateLimitStore,
    async close() {
      mail.close();
      await backend.close();
      await store.close();
      if (owned) {
        // Still connecting (Redis never answered): there is nothing to close gracefully.
        if (owned.isReady) await closeRedis(owned);
        else owned.destroy();
      }
    },
  };
  return sessions;
}

/** The package's middleware as one, its errors marked as its own (own-errors.ts). */
function ownErrors(steps: RequestHandler[]): RequestHandler {
  const sequence = inSequence(steps);
  return (req, res, next) => sequence(req, res, (err?: unknown) => next(markOwn(err)));
}

/** Ends the package's routers: what went wrong inside them is the package's to answer. */
const markErrors: ErrorRequestHandler = (err, _req, _res, next) => next(markOwn(err));

/**
 * The start: settings, the Redis client (the site's, or one the package makes from a URL), the
 * store on it, the location data. Returns at once; `ready` settles when Redis has answered and
 * the data is loaded, and `startGate` holds a request for that, REDIS_TIMEOUT at most.
 */
function start(options: SessionsOptions) {
  const redisUrl = typeof options.redis === "string" && options.redis !== "" ? options.redis : undefined;
  const given = typeof options.redis === "object" && options.redis !== null ? (options.redis as RedisClientType) : undefined;
  if (given) {
    checkRedisClient(given);
    // A client with no `error` listener crashes the process at the first lost connection
    // (an unhandled 'error' event): the package listens, and tells `events`.
    const emitter = given as { listenerCount?(event: string): number; on?(event: string, listener: (err: Error) => void): unknown };
    if (emitter.listenerCount?.("error") === 0) emitter.on?.("error", (err) => options.events?.redisError?.(err));
  }
  const config = options.config ?? settingsOf(options, redisUrl);
  checkReadable(config.geoipDatabase);
  const owned = redisUrl ? createRedis(redisUrl, config.sessionCacheEntries) : !given && usesRedis(config) ? createConfiguredRedis(config) : undefined;
  owned?.on("error", (err: Error) => options.events?.redisError?.(err));
  const client = given ?? owned;
  if (options.legacy !== undefined && !client) {
    throw new ConfigError("createSessions: `legacy` reads the sessions connect-redis kept in Redis: pass `redis` (or set REDIS_URL) too.");
  }
  const { metrics } = options;
  const backend = openSessionBackend(config, {
    client,
    keyPrefix: options.keyPrefix,
    now: options.now,
    events: options.events,
    metrics,
    keepCookie: options.userIdOf !== undefined,
    legacyPrefix: options.legacy ? (options.legacy.prefix ?? "sess:") : undefined,
  });
  if (metrics && client) watchCache(metrics, (client as unknown as { clientSideCache?: Parameters<typeof watchCache>[1] }).clientSideCache);
  let locator: Locate = () => null;
  const located = openLocator(config.geoipDatabase).then((loaded) => {
    locator = loaded;
  });
  let isReady = false;
  const ready = Promise.all([owned?.connect(), backend.ready, located]).then(() => {
    isReady = true;
  });
  // A site that never asks is told by its requests (a 503 each), not by an unhandled rejection.
  ready.catch(() => {});
  /** Holds a request until the start is done, REDIS_TIMEOUT at most, once per request. */
  const startGate: RequestHandler = (req, _res, next) => {
    if (isReady) return next();
    const waited = req as Request & { [WAITED_FOR_START]?: Error };
    if (waited[WAITED_FOR_START]) return next(waited[WAITED_FOR_START]);
    withinBound(ready, config.redisTimeoutMs).then(
      () => next(),
      (err) => {
        waited[WAITED_FOR_START] = err;
        next(err);
      },
    );
  };
  const locate: Locate = (ip) => locator(ip);
  return { config, owned, backend, locate, ready, isReady: () => isReady, startGate };
}

function signedIn(req: Request) {
  if (!req.sessionUser) throw new Error("not signed in: put requireAuth before this route");
  return req.sessionUser;
}

function settingsOf(options: SessionsOptions, redisUrl: string | undefined): Config {
  // Over the process's environment, not instead of it: NODE_ENV=production (and with it
  // Secure cookies and the refusal of the embedded store) holds whatever a site passes here.
  const env = { ...process.env, ...options.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  const secrets = options.secret === undefined ? undefined : [options.secret].flat();
  return loadConfig(env, { redisGiven: typeof options.redis === "object" && options.redis !== null, secrets, mailGiven: options.mail !== undefined });
}

/** A location file that cannot be read fails the start at once; reading it happens behind it. */
function checkReadable(file: string | undefined): void {
  if (!file || file === "off") return;
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`GEOIP_DATABASE: cannot read ${file} as a MaxMind City database (${(err as Error).message}).`);
  }
}

/** node-redis v5 clients (one server, Cluster, Sentinel) have these; ioredis and older node-redis do not. */
function checkRedisClient(client: unknown): void {
  const methods = ["get", "zAdd", "zRangeWithScores", "evalSha", "duplicate"];
  const missing = methods.filter((m) => typeof (client as Record<string, unknown> | null)?.[m] !== "function");
  if (missing.length > 0) {
    throw new ConfigError(
      `createSessions: \`redis\` must be a connected client from the "redis" package (createClient, createCluster or createSentinel); this one has no ${missing.join(", ")}.`,
    );
  }
  if ((client as { isOpen?: boolean }).isOpen === false) {
    throw new ConfigError("createSessions: the `redis` client is not connected: call client.connect() first (awaiting it is not needed), or pass the URL.");
  }
  // With node-redis's offline queue, every request waits while Redis is away (then fails
  // however it fails) instead of answering 503 at once. Readable on a one-server client.
  const { options } = client as { options?: { disableOfflineQueue?: boolean } };
  if (options && options.disableOfflineQueue !== true) {
    throw new ConfigError(
      "createSessions: create the `redis` client with `disableOfflineQueue: true` (createClient({ url, disableOfflineQueue: true })), so that while Redis is away pages answer 503 at once rather than wait.",
    );
  }
}
