/**
 * Sessions people can see and end, for an Express site that already has its own accounts,
 * sign-in form and layout. Start with createSessions(); docs/adopting.md walks through it.
 *
 * This file is the package's main door: what a site that adds the sessions uses, and the types
 * it implements or passes in. Three named ones stand beside it: redis-entry.ts
 * ("express-user-sessions/redis") and metrics-entry.ts ("/metrics") for the optional peers, and
 * site-kit-entry.ts ("/site-kit"), the parts of the package's own pages for a site building
 * pages like them. A site, the reference site in src/site included, imports nothing else (npm
 * run lint checks it). No type reachable from here names "redis" or "prom-client": a site
 * without them compiles.
 *
 * @packageDocumentation
 */

// Exports stay in path order (Biome sorts them); each says what a site does with it.
// The activity log, to record a site's own events beside the package's (sessions.activity).
export type { ActivityEntry, ActivityLog } from "./activity/activity-log";
// A form's `next`, judged before a redirect to it.
export { safeNext } from "./auth/safe-next";
// Starting: createSessions, what it throws at start, and what a site passes in (events, mail, metrics).
export { ConfigError } from "./config";
export { createSessions } from "./create-sessions";
export type { BackendEvents } from "./events";
export type { MailMessage, MailSender } from "./mail/mail-queue";
export type { Metrics } from "./metric-types";
// A site's own pages around the sessions: the next page's message, and Redis out of reach.
export { setFlash } from "./middleware/flash";
export { isRedisUnavailable } from "./redis/unavailable";
// The stores, for a site's own express-session or tests of its own.
export { EmbeddedSessionStore, type EmbeddedSessionStoreOptions } from "./session-store/embedded-session-store";
export { isHandle } from "./session-store/session-record";
export type { SessionInfo, SessionStore } from "./session-store/session-store";
// What createSessions takes and gives, what router() takes, and whom revokeSession acts for.
export type { OnBehalfOf, SessionPagesOptions, Sessions, SessionsOptions } from "./surface";
// Accounts as the sessions see them: the contract a site implements, and roles.
export { type AccountSource, isRole, ROLES, type Role, type SessionAccount } from "./users/account";
