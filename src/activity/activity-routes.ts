import { Router } from "express";
import type { AppDeps } from "../app-deps";
import { safeNext } from "../auth/safe-next";
import { requireAuth } from "../middleware/require-auth";
import { describeActivity } from "./describe-activity";

export const ACTIVITY_PAGE_SIZE = 20;

/** A `before` cursor from a query string: a positive whole number, or nothing. */
export function cursorOf(value: unknown): number | undefined {
  return typeof value === "string" && /^\d{1,16}$/.test(value) ? Number(value) : undefined;
}

export function activityRoutes({ activity, config }: AppDeps): Router {
  const router = Router();

  router.get("/settings/activity", requireAuth, async (req, res) => {
    const page = await activity.list(req.user!.id, { before: cursorOf(req.query.before), limit: ACTIVITY_PAGE_SIZE });
    res.render("settings/activity", {
      title: "Security activity",
      rows: page.entries.map((e) => ({ ...describeActivity(e), thisDevice: e.session === req.user!.sessionHandle })),
      next: page.next ?? null,
      first: req.query.before === undefined,
      retentionDays: Math.round(config.activityRetention / 86400),
    });
  });

  // The "new sign-in" notice stays on every page of this session until it is dismissed here.
  router.post("/notices/sign-in/dismiss", requireAuth, (req, res) => {
    const notice = req.session.user?.signIn;
    if (notice) req.session.noticeSeen = notice.at;
    res.redirect(303, safeNext(req.body?.back));
  });

  return router;
}
