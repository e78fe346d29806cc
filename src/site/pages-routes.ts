import type { Router } from "express";
import { safeNext } from "../package";
import type { RouteDeps } from "./app-deps";

/**
 * The landing page, the dashboard, the unauthorized page, and dismissing the sign-in notice.
 * Routes of the app itself, as the health routes below: these are the pages most requests
 * are for, and a router of their own would cost each of them one more dispatch.
 */
export function pagesRoutes(router: Pick<Router, "get" | "post">, { requireAuth, kit }: RouteDeps): void {
  router.get("/", (_req, res) => res.render("index", { title: "Sessions you can see and end" }));
  router.get("/dashboard", requireAuth, (_req, res) => res.render("dashboard", { title: "Dashboard" }));
  router.get("/unauthorized", (_req, res) => res.render("unauthorized", { title: "Not allowed" }));
  // The "new sign-in" notice stays on every page of this session until it is dismissed here.
  router.post("/notices/sign-in/dismiss", requireAuth, (req, res) => {
    kit.dismissSignInNotice(req);
    res.redirect(303, safeNext(req.body?.back));
  });
}

/**
 * Liveness and readiness, answered before any session work. Routes of the app itself rather
 * than a router of their own: every page passes this point, and a router it enters and
 * leaves costs each page a dispatch.
 */
export function healthRoutes(app: Pick<Router, "get">, { sessions }: RouteDeps): void {
  app.get("/healthz", (_req, res) => {
    res.set("Cache-Control", "no-store").json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    res.set("Cache-Control", "no-store");
    try {
      await sessions.ping();
      res.json({ status: "ready" });
    } catch {
      res.status(503).json({ status: "unavailable", error: "the session store does not answer" });
    }
  });
}
