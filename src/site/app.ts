import path from "node:path";
import ejs from "ejs";
import express from "express";
import { adminRoutes } from "./admin/admin-routes";
import { apiRoutes, openapiRoute } from "./api/api-routes";
import type { AppDeps, RouteDeps } from "./app-deps";
import { authRoutes } from "./auth/auth-routes";
import { passwordResetRoutes } from "./auth/password-reset-routes";
import { signUpRoutes } from "./auth/sign-up-routes";
import { errorHandler, notFound } from "./middleware/errors";
import { requestDurations, requestLogger } from "./middleware/request-logger";
import { securityHeaders } from "./middleware/security-headers";
import { healthRoutes, pagesRoutes } from "./pages-routes";
import { settingsRoutes } from "./settings/settings-routes";

const ROOT = path.join(__dirname, "..", "..");
const VIEWS = path.join(ROOT, "views");

/** Builds the app from its dependencies. No I/O here: server.ts connects and listens. */
export function createApp(appDeps: AppDeps): express.Express {
  const { kit } = appDeps;
  const deps: RouteDeps = {
    ...appDeps,
    sessions: kit.store,
    activity: kit.activity,
    csrf: kit.csrf,
    throttle: kit.throttle,
    passwordChecks: kit.passwordChecks,
    rateLimitStore: kit.rateLimitStore,
    requireAuth: kit.requireAuth,
    requireRole: kit.requireRole,
    now: kit.now,
  };
  const app = express();
  app.set("trust proxy", deps.config.trustProxy);
  useViews(app);
  app.set("x-powered-by", false);
  app.set("query parser", "simple");
  // Pages are never cached (no-store), so an ETag would be a hash computed for nothing.
  app.set("etag", false);

  app.use(securityHeaders(deps.config.production));
  app.use(requestLogger(deps.logger));
  if (deps.metrics) app.use(requestDurations(deps.metrics));
  // Only paths that name a file with an extension reach the disk: a page request costs no stat().
  const assets = express.static(path.join(ROOT, "public"), { index: false, maxAge: "1h" });
  app.use((req, res, next) => (/\.[a-z0-9]+$/i.test(req.path) ? assets(req, res, next) : next()));
  healthRoutes(app, deps);
  app.use("/api", openapiRoute());

  app.use(express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 50 }));
  app.use("/api", express.json({ limit: "16kb" }));
  // The sessions, as any site adds them: the session, the signed-in account, CSRF.
  app.use(kit.middleware());

  // Scripts get 401 JSON rather than a redirect to the sign-in page.
  app.use("/api", kit.requireAuth, apiRoutes(deps));
  pagesRoutes(app, deps);
  app.use(authRoutes(deps));
  app.use(signUpRoutes(deps));
  app.use(passwordResetRoutes(deps));
  // The sessions page and the activity page, in this site's settings layout.
  app.use("/settings", kit.router({ layout: "settings/layout" }));
  app.use(settingsRoutes(deps));
  app.use(adminRoutes(deps));

  app.use(notFound);
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

/**
 * The server's EJS views. Views include partials by absolute name ("/partials/top"), resolved
 * against the views root: EJS then looks nothing up on disk at render time (a relative include
 * costs an existsSync per include per page, even with the view cache on).
 */
export function useViews(app: express.Express): void {
  app.set("view engine", "ejs");
  app.set("views", VIEWS);
  app.engine("ejs", (file, data, done) => {
    const cache = Boolean((data as { settings?: Record<string, unknown> }).settings?.["view cache"]);
    ejs.renderFile(file, data as ejs.Data, { root: VIEWS, views: [VIEWS], cache }, done as (err: Error | null, html?: string) => void);
  });
}
