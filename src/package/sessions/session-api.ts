import express, { type Request, type Response, Router } from "express";
import asyncHandler from "express-async-handler";
import { describeActivity } from "../activity/describe-activity";
import { apiError } from "../middleware/errors";
import { forbidCaching } from "../middleware/page-locals";
import { isHandle } from "../session-store/session-record";
import type { Sessions } from "../surface";
import { describeDevice } from "./device";
import type { Outcome } from "./password-checks";
import { cursorOf } from "./session-pages";

/**
 * The sessions page as JSON, for scripts on the same cookie session: list, end one, end all
 * others, and the activity. Unsafe methods need the package's CSRF token (`csrfToken` of GET
 * /sessions) in X-Sessions-CSRF-Token, or in X-CSRF-Token where the site has no CSRF check of its own.
 */
export function sessionApi(sessions: Sessions): Router {
  const { store, activity, passwordChecks, requireAuth } = sessions;
  const router = Router();
  router.use((_req, res, next) => {
    res.locals.jsonApi = true;
    // Devices, addresses and activity: no cache may keep them, as no cache keeps the pages.
    forbidCaching(res);
    next();
  }, requireAuth);
  // With the site's own sign-in, the site's body parsing and CSRF checks are its own: the API
  // reads its bodies and checks its token here.
  if (sessions.keepsSiteSignIn) router.use(express.json({ limit: "16kb" }), sessions.csrf.protection);

  router.get(
    "/sessions",
    asyncHandler(async (req, res) => {
      const list = await store.listUserSessions(req.sessionUser!.id);
      res.json({
        // The package's own token, for X-Sessions-CSRF-Token (beside the site's own in X-CSRF-Token, if it has a check).
        csrfToken: sessions.csrf.ownTokenFor(req, res) ?? sessions.csrf.tokenFor(req, res),
        sessions: list.map((s) => {
          const device = describeDevice(s.userAgent);
          return {
            id: s.handle,
            name: s.name ?? null,
            device: device.label,
            deviceType: device.type,
            ip: s.ip,
            location: s.location ?? null,
            current: s.handle === req.sessionUser!.sessionHandle,
            createdAt: new Date(s.createdAt).toISOString(),
            lastActiveAt: new Date(s.lastActiveAt).toISOString(),
            expiresAt: new Date(s.expiresAt).toISOString(),
            persistent: s.persistent,
          };
        }),
      });
    }),
  );

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

  router.delete(
    "/sessions/:id",
    asyncHandler(async (req, res) => {
      const user = req.sessionUser!;
      const handle = req.params.id;
      if (!isHandle(handle)) return apiError(res, 404, "not_found", "No such session.");
      if (handle === user.sessionHandle) return apiError(res, 400, "current_session", "This is the current session; sign out to end it.");
      const done = await reauthenticated(req, res, () => sessions.revokeSession(req, handle));
      if (!done) return;
      if (!done.value) return apiError(res, 404, "not_found", "No such session.");
      res.status(204).end();
    }),
  );

  router.post(
    "/sessions/revoke-others",
    asyncHandler(async (req, res) => {
      const done = await reauthenticated(req, res, () => sessions.revokeAllOtherSessions(req));
      if (done) res.json({ ended: done.value });
    }),
  );

  router.get(
    "/activity",
    asyncHandler(async (req, res) => {
      const page = await activity.list(req.sessionUser!.id, { before: cursorOf(req.query.before), limit: 50 });
      res.json({
        entries: page.entries.map((e) => {
          const row = describeActivity(e, sessions.locate);
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
    }),
  );

  return router;
}
