import path from "node:path";
import express from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import { authRoutes } from "./auth/auth-routes";
import type { RateLimitStoreFactory } from "./auth/sign-in-throttle";
import type { Config } from "./config";
import { csrfLocals, csrfProtection } from "./middleware/csrf";
import { currentUser } from "./middleware/current-user";
import { errorHandler, notFound } from "./middleware/errors";
import { flash } from "./middleware/flash";
import { requireAuth } from "./middleware/require-auth";
import { requestLogger } from "./middleware/request-logger";
import { noteSessionCookie, saveBeforeRedirect, sessionMiddleware } from "./middleware/session";
import { healthRoutes, pagesRoutes } from "./pages-routes";
import type { Lifetime } from "./session-store/session-record";
import type { SessionStore } from "./session-store/session-store";
import { sessionsRoutes } from "./sessions/sessions-routes";
import { settingsRoutes } from "./settings/settings-routes";
import type { PasswordHasher } from "./users/password";
import type { UserRepository } from "./users/user-repository";

export interface AppDeps {
  config: Config;
  sessions: SessionStore;
  users: UserRepository;
  passwords: PasswordHasher;
  logger: Logger;
  lifetime: Lifetime;
  cookieName: string;
  /** Where sign-in attempts are counted (the backend's rateLimitStore). */
  rateLimitStore: RateLimitStoreFactory;
}

const ROOT = path.join(__dirname, "..");

/** Builds the app from its dependencies. No I/O here: server.ts connects and listens. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.set("trust proxy", deps.config.trustProxy);
  app.set("view engine", "ejs");
  app.set("views", path.join(ROOT, "views"));
  app.set("x-powered-by", false);
  app.set("query parser", "simple");

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          fontSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      strictTransportSecurity: deps.config.production ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
      referrerPolicy: { policy: "no-referrer" },
      xFrameOptions: { action: "deny" },
    }),
  );
  app.use(requestLogger(deps.logger));
  app.use(express.static(path.join(ROOT, "public"), { index: false, maxAge: "1h" }));
  app.use(healthRoutes(deps));

  // Pages carry per-session tokens and private data: no cache may keep them.
  app.use((_req, res, next) => {
    res.set("Cache-Control", "no-store");
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 50 }));
  app.use(noteSessionCookie(deps.cookieName));
  app.use(sessionMiddleware(deps.config, deps.sessions, deps.cookieName));
  app.use(saveBeforeRedirect);
  app.use(currentUser(deps.users, deps.lifetime));
  app.use(csrfLocals);
  app.use(csrfProtection);
  app.use(flash);
  app.use((req, res, next) => {
    res.locals.currentUser ??= null;
    res.locals.path = req.path;
    next();
  });

  // Scripts get 401 JSON rather than a redirect to the sign-in page.
  app.use("/api", requireAuth);
  app.use(pagesRoutes(deps));
  app.use(authRoutes(deps));
  app.use(sessionsRoutes(deps));
  app.use(settingsRoutes(deps));

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
