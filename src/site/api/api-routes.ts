import { Router } from "express";
import { rateLimit } from "express-rate-limit";
import { apiError } from "../../package/site-kit-entry";
import type { RouteDeps } from "../app-deps";
import openapi from "./openapi.json";

/** The public API description, readable without signing in (mounted at /api). */
export function openapiRoute(): Router {
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    res.set("Cache-Control", "public, max-age=300").json(openapi);
  });
  return router;
}

/**
 * JSON for scripts, on the same cookie session as the pages (mounted at /api behind requireAuth).
 * Unsafe methods need the CSRF token from GET /api/me in X-CSRF-Token.
 */
export function apiRoutes(deps: RouteDeps): Router {
  const { config } = deps;
  const router = Router();
  router.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.apiLimitPerMinute,
      standardHeaders: "draft-7",
      legacyHeaders: false,
      store: deps.rateLimitStore("rl:api:"),
      validate: { xForwardedForHeader: false },
      handler: (_req, res) => apiError(res, 429, "rate_limited", "Too many requests; wait a minute."),
    }),
  );

  router.get("/me", (req, res) => {
    const u = req.sessionUser!;
    res.json({ id: u.id, name: u.name, email: u.email, role: u.role, org: u.org, csrfToken: deps.csrf.tokenFor(req, res) });
  });

  router.use(deps.kit.apiRouter());
  router.use((_req, res) => apiError(res, 404, "not_found", "No such API route."));
  return router;
}
