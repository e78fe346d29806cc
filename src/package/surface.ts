import type { ErrorRequestHandler, Request, RequestHandler, Response, Router } from "express";
import type { Store as RateLimitStore } from "express-rate-limit";
import type { ActivityLog } from "./activity/activity-log";
import type { PasswordThrottle } from "./auth/password-throttle";
import type { Config } from "./config";
import type { BackendEvents } from "./events";
import type { LinkClaims, LinkKind } from "./mail/mail-links";
import type { MailQueue, MailSender } from "./mail/mail-queue";
import type { Metrics } from "./metric-types";
import type { Csrf } from "./middleware/csrf";
import type { AuthGuards } from "./middleware/require-auth";
import type { MigrationProgress } from "./session-store/migration-progress";
import type { SessionInfo, SessionStore } from "./session-store/session-store";
import type { PasswordChecks } from "./sessions/password-checks";
import type { AccountSource, SessionAccount } from "./users/account";

// The types of the package's surface (index.ts), apart from the code that builds it, so that
// the routers can take a Sessions without importing createSessions.

/**
 * A client of the "redis" package (node-redis 5 or 6: createClient, createCluster or
 * createSentinel), as far as the types say: a site without that package compiles.
 */
export interface SiteRedisClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
}

/** Acting on another account's sessions: whose, and who did it, in words ("an administrator"). */
export interface OnBehalfOf {
  userId: string;
  by: string;
}

export interface SessionsOptions {
  /** The site's accounts: looked up by id, and their passwords checked. Required. */
  accounts: AccountSource;
  /**
   * Redis: a URL (`redis://...`; the package makes its client, with the settings it needs, and
   * closes it in `close()`), or a node-redis client of yours, connected or connecting
   * (`createClient`, `createCluster` or `createSentinel` from the `redis` package; you keep it
   * and close it). Without one (and without REDIS_URL and its kin in `env`), or with an empty
   * string, sessions live in this process: for development only, refused in production.
   */
  redis?: string | SiteRedisClient;
  /**
   * For a site that signs people in itself (Passport, or `req.session.userId = id`): who is
   * signed in on a request, by the site's own word, e.g. `(req) => req.user?.id`. With it, the
   * site keeps its own `session({ store: sessions.store, ... })` and authentication, and adds
   * `sessions.track()` after them; `middleware()` and `signIn` are not used.
   */
  userIdOf?: (req: Request) => string | number | null | undefined | false;
  /** With `userIdOf`: the name of the site's session cookie (express-session's `name`). Default: "connect.sid". */
  cookieName?: string;
  /** Signs the cookie; several rotate (the first signs, all verify). Default: SESSION_SECRET. */
  secret?: string | string[];
  /**
   * Settings by their environment variable names (see the README's table), over process.env:
   * what is given here wins, the rest comes from the process (NODE_ENV included). A key given
   * as undefined unsets it.
   */
  env?: Record<string, string | undefined>;
  /** Settings already read with loadConfig() of "express-user-sessions/site-kit"; when given, `env` and `secret` are not read. */
  config?: Config;
  /** Where requireAuth sends visitors who are not signed in. Default: "/login". */
  signInPath?: string;
  /** Answers a page that requireRole refuses (the JSON API always gets 403 JSON). Default: a plain 403. */
  forbidden?: (req: Request, res: Response) => void;
  /** Put before every Redis key this package writes. Default: none ("sess:", "activity:", "rl:"). */
  keyPrefix?: string;
  /**
   * A site moving from connect-redis, with `userIdOf` and `redis`: the sessions connect-redis
   * wrote (plain JSON under `prefix` and the raw id; its default prefix is "sess:") are read,
   * served, and moved to a new id at their browser's first request (the old id leads to it for
   * SESSION_ROTATE_GRACE), their old key removed. Nobody is signed out by the switch;
   * connect-redis's keys are never written again.
   *
   * `userIdOf` reads the account from a stored session, as the site's own `userIdOf` reads it
   * from a request (`(session) => session.passport?.user` for Passport storing the id): with
   * it, every session connect-redis kept is the account's from the start, listed and endable
   * before its browser comes back. A migration walks the prefix in the background at start
   * (`migrate: false` leaves it to `migrateLegacySessions()`, e.g. in a command of yours).
   */
  legacy?: LegacySessionsOption;
  /** The clock sessions are judged by (ms since the epoch). Default: Date.now. */
  now?: () => number;
  /** Connection problems and replica shortfalls, for your logs. */
  events?: BackendEvents;
  /**
   * Sends the package's mail (sign-in alerts from new devices) your way: `{ send(message) }`
   * returning a promise. Default: SMTP_URL's server, or, without it, `events.mailWritten`.
   */
  mail?: MailSender;
  /**
   * Sign-in alerts by mail (a new device, a stolen cookie) to accounts that have an email.
   * `false` sends none. Default: on.
   */
  alerts?: boolean;
  /** Where the site mounts `router()`, for the links in mail (after PUBLIC_URL). Default: "/account". */
  pagesAt?: string;
  /** The site's name in mail. Default: PUBLIC_URL's host. */
  siteName?: string;
  /**
   * Sets an account's password, for the "This wasn't me" page of a sign-in alert (the link
   * proved the mailbox): resolves to null when set, or a message saying what is wrong with the
   * password. Bump the account's credential version as your own password change does. Without
   * it, the page ends the session and tells the person to change their password themselves.
   */
  setPassword?: (userId: string, password: string) => Promise<string | null>;
  /** What `setPassword` asks of a new password ("At least 10 characters."), shown under its field before anything is refused. */
  passwordRules?: string;
  /** Prometheus metrics (prom-client) to count into: sign-ins, sessions created and ended, re-authentications, store timings, the cache. */
  metrics?: Metrics;
}

/** A site moving from connect-redis: see `SessionsOptions.legacy`. */
export interface LegacySessionsOption {
  /** connect-redis's prefix. Default: "sess:". */
  prefix?: string;
  /** The account a session connect-redis kept belongs to, read from the session as stored. */
  userIdOf?: (session: Record<string, unknown>) => unknown;
  /** Walk connect-redis's keys in the background at start (with `userIdOf`). Default: true. */
  migrate?: boolean;
}

/** What a walk over connect-redis's keys did (`migrateLegacySessions`). */
export type LegacyMigration = MigrationProgress;

/** Everything the package offers a site, built once at start. */
export interface Sessions extends AuthGuards {
  /**
   * The express-session store: Redis (one server, Cluster or Sentinel) or embedded. With
   * `userIdOf` it is the store for the site's own `session({ store: sessions.store })`, and
   * keeps each session's cookie as the site set it.
   */
  store: SessionStore;
  /** Whether the site keeps its own sign-in (`userIdOf` was given). */
  keepsSiteSignIn: boolean;
  /** The security activity of each account (sign-ins, sessions ended, ...), shown on the activity page. */
  activity: ActivityLog;
  /** Anti-forgery tokens: `protection` checks every unsafe request, `tokenFor` gives a form its token. */
  csrf: Csrf;
  /** Counts wrong passwords per client IP and per account; your sign-in form should use it too. */
  throttle: PasswordThrottle;
  /** Re-authentication: the password entered again before ending sessions. */
  passwordChecks: PasswordChecks;
  /** Where the package's mail waits to be sent: `enqueue` a site's own too. */
  mail: MailQueue;
  /**
   * Signed links for mail, as the alerts' are, for a site's own mail (a "forgot your password"
   * link: kind "reset", one hour): `make` one, `read` it back (null when forged or of another
   * kind, "expired"), ask whether it was `used`, and `take` it (true once, whatever requests
   * race for it).
   */
  links: {
    make(kind: LinkKind, userId: string, options?: { session?: string; version?: number }): string;
    read(token: unknown, kind: LinkKind): LinkClaims | "expired" | null;
    used(claims: LinkClaims): Promise<boolean>;
    take(claims: LinkClaims): Promise<boolean>;
  };
  /** The metrics it counts into, when given. */
  metrics?: Metrics;
  /** Where requireAuth sends visitors (the `signInPath` option). */
  signInPath: string;
  /** The settings in force. */
  config: Config;
  now: () => number;
  /** Where an address is, roughly ("Berlin, Germany"; "Unknown location"); null for private and loopback addresses. */
  locate(ip: string): string | null;
  /**
   * express-session with the secure defaults, then the signed-in account on `req.user` (and
   * the session refreshed once per update window), then what the pages need in `res.locals`
   * (`csrfToken()`, `flash()`, `currentUser`), then CSRF protection on every unsafe method.
   */
  middleware(): RequestHandler;
  /**
   * With `userIdOf`, after the site's session and authentication middleware: the session of a
   * request the site names an account on is indexed under it (at the first such request after
   * the sign-in), described, and kept fresh; the site's sign-out (req.logout, destroy,
   * regenerate) ends it in the index and the activity. Sets req.sessionUser, never req.user;
   * and `flash()` and `signInNotice` in res.locals for the site's layout.
   */
  track(): RequestHandler;
  /**
   * Signs the account in on this request: a new session id, device data, the index, the
   * notice to its other sessions. With SESSION_LIMIT_POLICY=ask and the account at the cap,
   * nothing is signed in yet: the answer is "choose", and you send the browser to the
   * router's `/sessions/choose` (where you mounted it), where the person picks which session
   * to end; `next` is where they go once signed in, if it is a path on this site (judged by
   * `safeNext`, which the package exports: judge your own redirect after "signed-in" with it too;
   * anything else goes to "/").
   */
  signIn(req: Request, account: SessionAccount, options?: { remember?: boolean; next?: string }): Promise<"signed-in" | "choose">;
  /** A new id for this request's session (after a password change, say); the old id ends. Same sign-in, same expiry. */
  renewSession(req: Request): Promise<void>;
  /**
   * Call after changing an account (name, role, password, disabled): every session of it
   * gets the account as it is now, at once; a deleted account's sessions end. Pass the
   * request when it is the account's own, so this session shows it too.
   */
  accountChanged(userId: string, req?: Request): Promise<void>;
  /**
   * Completes a sign-in that was waiting for a choice (see signIn); false when there is none,
   * it is too old, it was already completed, or the account's password changed (or it was
   * disabled or deleted) since. `beforeSignIn` runs only when it will complete, before the
   * new session starts: end the chosen sessions there.
   */
  completeSignIn(req: Request, beforeSignIn?: (userId: string) => Promise<unknown>): Promise<boolean>;
  /** Hides the "new sign-in" notice (`signInNotice` in res.locals) on this session until the next sign-in. */
  dismissSignInNotice(req: Request): void;
  /** Ends this request's session on the server and clears its cookie. */
  signOut(req: Request, res: Response): Promise<void>;
  /** The account's live sessions, most recently active first. */
  getUserSessions(userId: string): Promise<SessionInfo[]>;
  /**
   * Ends one session of the signed-in account by its handle; false when it is not theirs or
   * already gone. An administrator's console passes `onBehalfOf`: another account's session,
   * recorded in that account's activity as ended by `by`.
   */
  revokeSession(req: Request, handle: string, onBehalfOf?: OnBehalfOf): Promise<boolean>;
  /** Ends every session of the signed-in account but this one (with `onBehalfOf`: every session of that account); returns how many. */
  revokeAllOtherSessions(req: Request, onBehalfOf?: OnBehalfOf): Promise<number>;
  /**
   * Reads the account again and records last activity, device and IP now, rather than at the
   * next update window (the middleware does it once per window by itself).
   */
  updateSessionActivity(req: Request): Promise<void>;
  /** The sessions page and the activity page, for a site to mount where it likes. */
  router(options?: SessionPagesOptions): Router;
  /** The sessions as JSON for scripts, on the same cookie session: `app.use("/api", sessions.apiRouter())`. */
  apiRouter(): Router;
  /** Counters in the same store as the sessions, for express-rate-limit (undefined: its memory store). */
  rateLimitStore(prefix: string): RateLimitStore | undefined;
  /**
   * Answers what the package refuses, after your routes: a form without its CSRF token (403),
   * Redis out of reach (503), too many password checks at once (503), a body too large (413):
   * JSON for the API, a short message otherwise, never a stack trace. Anything else goes on
   * to your own error handler.
   */
  errorHandler(): ErrorRequestHandler;
  /**
   * Resolves once Redis has answered and the location data is loaded; rejects when the start
   * failed. Awaiting it is optional: until then, a request that needs the store waits
   * REDIS_TIMEOUT at most, then gets a 503.
   */
  ready(): Promise<void>;
  /**
   * Runs one Redis command of your own (your accounts on the same Redis) under the sessions'
   * bound: REDIS_TIMEOUT at most, and refused at once while Redis is known away (stopped,
   * stalled, not reached since the start), which your command's wait teaches the sessions too.
   * Rejects with an error `isRedisUnavailable` knows (errorHandler() answers it 503). With the
   * embedded store it just runs. "express-user-sessions/redis" has `boundedRedis(client,
   * sessions)`, a client whose every command goes through here.
   */
  bounded<T>(command: () => Promise<T>): Promise<T>;
  /**
   * With `legacy`: makes every session connect-redis kept the package's, indexed under its
   * account (`legacy.userIdOf`), a SCAN step at a time; resumes where a stopped run stopped.
   * `busy` when another instance is running it.
   */
  migrateLegacySessions(options?: { onProgress?: (progress: LegacyMigration) => void }): Promise<LegacyMigration>;
  /** Stops timers and closes the connections the package opened (never your client). */
  close(): Promise<void>;
}

export interface SessionPagesOptions {
  /**
   * A view of your own app that wraps each page, named as you would name it to `res.render`
   * (with its extension when the app sets no default view engine): it gets `title` and `body`
   * (the page's HTML, to output unescaped) besides res.locals. Default: the package's own plain
   * layout.
   */
  layout?: string;
  /** A directory with your own `sessions.ejs` and `activity.ejs` (EJS) instead of the package's. */
  views?: string;
}
