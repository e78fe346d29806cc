import { Router } from "express";
import type { AppDeps } from "./app-deps";
import { requireAuth } from "./middleware/require-auth";

/** The landing page, the dashboard and the unauthorized page. */
export function pagesRoutes(): Router {
  const router = Router();
  router.get("/", (_req, res) => res.render("index", { title: "Sessions you can see and end" }));
  router.get("/dashboard", requireAuth, (_req, res) => res.render("dashboard", { title: "Dashboard" }));
  router.get("/unauthorized", (_req, res) => res.render("unauthorized", { title: "Not allowed" }));
  return router;
}

/** Liveness and readiness, answered before any session work. */
export function healthRoutes({ sessions }: AppDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.set("Cache-Control", "no-store").json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    res.set("Cache-Control", "no-store");
    try {
      await sessions.ping();
      res.json({ status: "ready" });
    } catch {
      res.status(503).json({ status: "unavailable", error: "the session store does not answer" });
    }
  });
  return router;
}
