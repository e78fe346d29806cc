/**
 * Sessions people can see and end, for an Express site that already has its own accounts,
 * sign-in form and layout. Start with createSessions(); docs/adopting.md walks through it.
 *
 * This file is the package's main door; redis-entry.ts ("express-user-sessions/redis") and
 * metrics-entry.ts ("/metrics") are the two named ones, for the optional peers. A site, the
 * reference site in src/site included, imports nothing else (npm run lint checks it). No type
 * reachable from here names "redis" or "prom-client": a site without them compiles.
 *
 * @packageDocumentation
 */

export type { ActivityEntry, ActivityLog, AuditEntry } from "./activity/activity-log";
export { describeActivity, describeAudit } from "./activity/describe-activity";
export { recordActivity } from "./activity/record";
export { addressKey } from "./addresses";
// Password checks through the throttle, and who is asking.
export {
  type CheckedAccount,
  type CheckOutcome,
  type PasswordThrottle,
  type RateLimitStoreFactory,
  type Throttled,
  throttledUntil,
} from "./auth/password-throttle";
export { safeNext } from "./auth/safe-next";
// Starting: the sessions, their settings, their types.
export type { Config } from "./config";
export { ConfigError, loadConfig, usesRedis } from "./config";
export { hasControlCharacters } from "./control-characters";
export { createSessions } from "./create-sessions";
export type { BackendEvents } from "./events";
// Metrics (prom-client) and Redis as the package connects it, for a site's own data beside the sessions.
export type { LinkClaims, LinkKind } from "./mail/mail-links";
export type { MailMessage, MailQueue, MailSender } from "./mail/mail-queue";
export type { Metrics } from "./metric-types";
export { clientIp, userAgentOf } from "./middleware/client-info";
export type { Csrf } from "./middleware/csrf";
export { apiError, classifyError, STATUS_TITLES } from "./middleware/errors";
// Pages of a site's own around the sessions: messages, redirects, refusals, errors.
export { setFlash } from "./middleware/flash";
export { isRedisUnavailable } from "./redis/unavailable";
// The stores, for a site's own express-session or tests of its own.
export { EmbeddedSessionStore, type EmbeddedSessionStoreOptions } from "./session-store/embedded-session-store";
export { isHandle } from "./session-store/session-record";
export type { SessionInfo, SessionStore } from "./session-store/session-store";
export { describeDevice } from "./sessions/device";
export { formatTime } from "./sessions/format-time";
export { answerRefusal, type PasswordChecks, type PasswordRefusal } from "./sessions/password-checks";
export { cursorOf } from "./sessions/session-pages";
// Reading sessions and activity out, for an administrators' console or a command line.
export { type SessionRow, sessionRows } from "./sessions/session-rows";
export type { OnBehalfOf, SessionPagesOptions, Sessions, SessionsOptions } from "./surface";
// Accounts as the sessions see them: the contract a site implements, roles, one email form.
export { type AccountSource, isRole, normalizeEmail, ROLES, type Role, type SessionAccount } from "./users/account";
