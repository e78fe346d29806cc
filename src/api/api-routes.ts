import { type Request, type Response, Router } from "express";
import { rateLimit } from "express-rate-limit";
import { cursorOf } from "../activity/activity-routes";
import { describeActivity } from "../activity/describe-activity";
import type { RouteDeps } from "../app-deps";
import { apiError } from "../middleware/errors";
import { isHandle } from "../session-store/session-record";
import { describeDevice } from "../sessions/device";
import { endOtherSessions, endSession } from "../sessions/end-sessions";
import type { Outcome } from "../sessions/password-checks";
import openapi from "./openapi.json";

/** The public API description, readable without signing in. */
export function openapiRoute(): Router {
  const router = Router();
  router.get("/api/openapi.json", (_req, res) => {
    res.set("Cache-Control", "public, max-age=300").json(openapi);
  });
  return router;
}

/**
 * JSON for scripts, on the same cookie session as the pages (mounted behind requireAuth).
 * Unsafe methods need the CSRF token from GET /api/me in X-CSRF-Token.
 */
export function apiRoutes(deps: RouteDeps): Router {
  const { sessions, config, activity, passwordChecks } = deps;
  const router = Router();
  router.use(
    "/api",
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

  router.get("/api/me", (req, res) => {
    const u = req.user!;
    res.json({ id: u.id, name: u.name, email: u.email, role: u.role, org: u.org, csrfToken: deps.csrf.tokenFor(req, res) });
  });

  router.get("/api/sessions", async (req, res) => {
    const list = await sessions.listUserSessions(req.user!.id);
    res.json({
      sessions: list.map((s) => {
        const device = describeDevice(s.userAgent);
        return {
          id: s.handle,
          device: device.label,
          deviceType: device.type,
          ip: s.ip,
          current: s.handle === req.user!.sessionHandle,
          createdAt: new Date(s.createdAt).toISOString(),
          lastActiveAt: new Date(s.lastActiveAt).toISOString(),
          expiresAt: new Date(s.expiresAt).toISOString(),
          persistent: s.persistent,
        };
      }),
    });
  });

  /**
   * The action behind the password (when the re-authentication window has passed); a refusal
   * is answered here: 403 to ask for it, 429 with Retry-After, or 401 once the session was
   * signed out after too many wrong ones.
   */
  async function reauthenticated<T>(req: Request, res: Response, act: () => Promise<T>): Promise<{ value: T } | null> {
    const outcome: Outcome<T> = await passwordChecks.withReauth(req, req.body?.password, act);
    if (!outcome.refused) return { value: outcome.value };
    const { refused } = outcome;
    if (refused.signedOut) apiError(res, 401, "signed_out", `${refused.message} Sign in again.`);
    else if (refused.status === 429) {
      res.set("Retry-After", String(refused.retryAfter));
      apiError(res, 429, "rate_limited", refused.message);
    } else apiError(res, 403, "reauth_required", `${refused.message} Send it as {"password": "..."}.`);
    return null;
  }

  router.delete("/api/sessions/:id", async (req, res) => {
    const user = req.user!;
    const handle = req.params.id;
    if (!isHandle(handle)) return apiError(res, 404, "not_found", "No such session.");
    if (handle === user.sessionHandle) return apiError(res, 400, "current_session", "This is the current session; sign out to end it.");
    const done = await reauthenticated(req, res, () => endSession(sessions, activity, req, user.id, handle));
    if (!done) return;
    if (!done.value) return apiError(res, 404, "not_found", "No such session.");
    res.status(204).end();
  });

  router.post("/api/sessions/revoke-others", async (req, res) => {
    const user = req.user!;
    const done = await reauthenticated(req, res, () => endOtherSessions(sessions, activity, req, user.id, user.sessionHandle));
    if (done) res.json({ ended: done.value });
  });

  router.get("/api/activity", async (req, res) => {
    const page = await activity.list(req.user!.id, { before: cursorOf(req.query.before), limit: 50 });
    res.json({
      entries: page.entries.map((e) => {
        const row = describeActivity(e);
        return {
          id: e.id,
          at: row.iso,
          type: e.type,
          text: row.text,
          ip: e.ip,
          device: e.userAgent ? describeDevice(e.userAgent).label : "",
          session: e.session,
        };
      }),
      next: page.next ?? null,
    });
  });

  router.use("/api", (_req, res) => apiError(res, 404, "not_found", "No such API route."));
  return router;
}
