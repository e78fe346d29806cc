import { type Request, type Response, Router } from "express";
import type { RouteDeps } from "../app-deps";
import { setFlash } from "../middleware/flash";
import { requireAuth } from "../middleware/require-auth";
import { isHandle } from "../session-store/session-record";
import { endOtherSessions, endSession } from "./end-sessions";
import { answerRefusal } from "./password-checks";
import { sessionRows } from "./session-rows";

const NOT_FOUND = "That session was not found. It may have ended already.";

export function sessionsRoutes(deps: RouteDeps): Router {
  const { sessions, activity, passwordChecks, now } = deps;
  const router = Router();

  async function render(req: Request, res: Response, status: number, error: string | null = null) {
    const user = req.user!;
    const rows = sessionRows(await sessions.listUserSessions(user.id), user.sessionHandle, now());
    res.status(status).render("settings/sessions", {
      title: "Your sessions",
      rows,
      others: rows.filter((r) => !r.current).length,
      askPassword: passwordChecks.needsPassword(req),
      error,
    });
  }

  router.get("/settings/sessions", requireAuth, (req, res) => render(req, res, 200));

  router.post("/settings/sessions/revoke-others", requireAuth, async (req, res) => {
    const user = req.user!;
    const outcome = await passwordChecks.withReauth(req, req.body?.password, () => endOtherSessions(sessions, activity, req, user.id, user.sessionHandle));
    if (outcome.refused) return answerRefusal(res, outcome.refused, (status, message) => render(req, res, status, message));
    const ended = outcome.value;
    setFlash(req, "success", ended === 1 ? "Signed out 1 other session." : `Signed out ${ended} other sessions.`);
    res.redirect(303, "/settings/sessions");
  });

  router.post("/settings/sessions/:id/revoke", requireAuth, async (req, res) => {
    const user = req.user!;
    const handle = req.params.id;
    if (!isHandle(handle)) return render(req, res, 404, NOT_FOUND);
    if (handle === user.sessionHandle) return render(req, res, 400, "That is this device. Use Sign out to end it.");
    const outcome = await passwordChecks.withReauth(req, req.body?.password, () => endSession(sessions, activity, req, user.id, handle));
    if (outcome.refused) return answerRefusal(res, outcome.refused, (status, message) => render(req, res, status, message));
    if (!outcome.value) return render(req, res, 404, NOT_FOUND);
    setFlash(req, "success", "Signed out that session.");
    res.redirect(303, "/settings/sessions");
  });

  return router;
}
