import type { RequestHandler } from "express";
import type { Logger } from "pino";
import type { ActivityLog, Metrics, SessionStore, Sessions } from "../package";
import type { Config } from "../package/site-kit-entry";
import type { PasswordHasher } from "./users/password";
import type { UserRepository } from "./users/user-repository";

/** What createApp() takes: configuration, the sessions (the package) and this server's accounts, passed in. */
export interface AppDeps {
  config: Config;
  /** The sessions, built by createSessions() as any site builds them. */
  kit: Sessions;
  users: UserRepository;
  passwords: PasswordHasher;
  logger: Logger;
  /** Prometheus metrics (METRICS_PORT): request durations and what the routes count. */
  metrics?: Metrics;
}

/** What the server's own routes get: the app's dependencies and the parts of the sessions they use. */
export interface RouteDeps extends AppDeps {
  sessions: SessionStore;
  activity: ActivityLog;
  csrf: Sessions["csrf"];
  /** Every password check (sign-in and re-authentication) is counted here. */
  throttle: Sessions["throttle"];
  passwordChecks: Sessions["passwordChecks"];
  rateLimitStore: Sessions["rateLimitStore"];
  requireAuth: RequestHandler;
  requireRole(...roles: string[]): RequestHandler;
  now: () => number;
}
