import type { Logger } from "pino";
import type { ActivityLog } from "./activity/activity-log";
import type { PasswordThrottle, RateLimitStoreFactory } from "./auth/password-throttle";
import type { Config } from "./config";
import type { Csrf } from "./middleware/csrf";
import type { SessionStore } from "./session-store/session-store";
import type { PasswordChecks } from "./sessions/password-checks";
import type { PasswordHasher } from "./users/password";
import type { UserRepository } from "./users/user-repository";

/** What createApp() takes: configuration and the backend's parts, passed in (nothing is opened here). */
export interface AppDeps {
  config: Config;
  sessions: SessionStore;
  users: UserRepository;
  passwords: PasswordHasher;
  logger: Logger;
  /** Where password failures are counted (the backend's rateLimitStore). */
  rateLimitStore: RateLimitStoreFactory;
  activity: ActivityLog;
  /** The clock sessions are judged by (ms since the epoch): Date.now, or a test's own. */
  now?: () => number;
}

/** What the routes get: the app's dependencies and the parts built from them once. */
export interface RouteDeps extends AppDeps {
  csrf: Csrf;
  /** Every password check (sign-in and re-authentication) is counted here. */
  throttle: PasswordThrottle;
  passwordChecks: PasswordChecks;
  now: () => number;
}
