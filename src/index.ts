/**
 * Sessions people can see and end, for an Express site that already has its own accounts,
 * sign-in form and layout. Start with createSessions(); docs/adopting.md walks through it.
 *
 * @packageDocumentation
 */

export { safeNext } from "./auth/safe-next";
export type { Config } from "./config";
export { ConfigError, loadConfig } from "./config";
export { createSessions } from "./create-sessions";
export type { BackendEvents } from "./session-backend";
export { EmbeddedSessionStore, type EmbeddedSessionStoreOptions } from "./session-store/embedded-session-store";
export { RedisSessionStore, type RedisSessionStoreOptions } from "./session-store/redis-session-store";
export type { SessionInfo, SessionStore } from "./session-store/session-store";
export type { OnBehalfOf, SessionPagesOptions, Sessions, SessionsOptions } from "./surface";
export type { AccountSource, SessionAccount } from "./users/account";
