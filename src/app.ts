import path from "node:path";
import express from "express";
import { activityRoutes } from "./activity/activity-routes";
import { adminRoutes } from "./admin/admin-routes";
import { apiRoutes, openapiRoute } from "./api/api-routes";
import type { AppDeps, RouteDeps } from "./app-deps";
import { authRoutes } from "./auth/auth-routes";
import { DeviceCookies } from "./auth/device-cookie";
import { PasswordThrottle } from "./auth/password-throttle";
import { csrfProtection } from "./middleware/csrf";
import { currentUser } from "./middleware/current-user";
import { errorHandler, notFound } from "./middleware/errors";
import { pageLocals } from "./middleware/page-locals";
import { requestLogger } from "./middleware/request-logger";
import { requireAuth } from "./middleware/require-auth";
import { securityHeaders } from "./middleware/security-headers";
import { saveBeforeRedirect, sessionMiddleware } from "./middleware/session";
import { healthRoutes, pagesRoutes } from "./pages-routes";
import { passwordChecks } from "./sessions/password-checks";
import { sessionsRoutes } from "./sessions/sessions-routes";
import { settingsRoutes } from "./settings/settings-routes";

const ROOT = path.join(__dirname, "..");

/** Builds the app from its dependencies. No I/O here: server.ts connects and listens. */
export function createApp(appDeps: AppDeps): express.Express {
  const { config } = appDeps;
  const devices = new DeviceCookies(config.sessionSecrets, config.production ? "__Host-device" : "device", config.production);
  const throttle = new PasswordThrottle(config, appDeps.rateLimitStore, devices);
  const now = appDeps.now ?? Date.now;
  const deps: RouteDeps = {
    ...appDeps,
    now,
    csrf: csrfProtection(config.sessionSecrets, config.production),
    throttle,
    passwordChecks: passwordChecks({ ...appDeps, now, throttle, lifetime: config.lifetime, reauthWindow: config.reauthWindow }),
  };
  const app = express();
  app.set("trust proxy", deps.config.trustProxy);
  app.set("view engine", "ejs");
  app.set("views", path.join(ROOT, "views"));
  app.set("x-powered-by", false);
  app.set("query parser", "simple");
  // Pages are never cached (no-store), so an ETag would be a hash computed for nothing.
  app.set("etag", false);

  app.use(securityHeaders(deps.config.production));
  app.use(requestLogger(deps.logger));
  // Only paths that name a file with an extension reach the disk: a page request costs no stat().
  const assets = express.static(path.join(ROOT, "public"), { index: false, maxAge: "1h" });
  app.use((req, res, next) => (/\.[a-z0-9]+$/i.test(req.path) ? assets(req, res, next) : next()));
  app.use(healthRoutes(deps));
  app.use(openapiRoute());

  app.use(express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 50 }));
  app.use("/api", express.json({ limit: "16kb" }));
  app.use(sessionMiddleware(deps.config, deps.sessions));
  app.use(saveBeforeRedirect);
  app.use(currentUser(deps.users, deps.config.lifetime, now));
  app.use(pageLocals(deps.config.cookieName, deps.csrf));
  app.use(deps.csrf.protection);

  // Scripts get 401 JSON rather than a redirect to the sign-in page.
  app.use("/api", requireAuth);
  app.use(apiRoutes(deps));
  app.use(pagesRoutes());
  app.use(authRoutes(deps));
  app.use(sessionsRoutes(deps));
  app.use(settingsRoutes(deps));
  app.use(activityRoutes(deps));
  app.use(adminRoutes(deps));

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
