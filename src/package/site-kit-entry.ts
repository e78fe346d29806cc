/**
 * The package's site-kit door, "express-user-sessions/site-kit": the parts the package's own
 * pages are built from, for a site that builds pages of its own in the same words (an
 * administrators' console, a command line, its own rate limits and error pages). A site that
 * only adds the sessions needs none of it. Like the main entry's, no type reachable from here
 * names "redis" or "prom-client".
 */

// Exports stay in path order (Biome sorts them).
// The activity and the audit log as the activity page reads them; recording from a request.
export type { AuditEntry } from "./activity/activity-log";
export { describeActivity } from "./activity/describe-activity";
export { recordActivity } from "./activity/record";
// Per-address counters as the password throttle keys them (an IPv6 address by its /64), and its refusal.
export { addressKey } from "./addresses";
export { type Throttled, throttledUntil } from "./auth/password-throttle";
// Settings read once, before createSessions (pass them as its `config`).
export { type Config, loadConfig, usesRedis } from "./config";
// Text a form field should refuse: controls and invisible characters (a newline, U+202E).
export { hasControlCharacters } from "./control-characters";
// Who is asking: the client's address and user agent, as the package records them.
export { clientIp, userAgentOf } from "./middleware/client-info";
// Errors answered as the package answers its own: JSON for an API, words for a page.
export { apiError, classifyError, STATUS_TITLES } from "./middleware/errors";
// Sessions read out as the sessions page shows them, and a refused re-authentication answered.
export { describeDevice } from "./sessions/device";
export { formatTime } from "./sessions/format-time";
export { answerRefusal } from "./sessions/password-checks";
export { cursorOf } from "./sessions/session-pages";
export { sessionRows } from "./sessions/session-rows";
// One email form, as the password counters and device cookies key an account.
export { normalizeEmail } from "./users/account";
