import { type Request, type Response, Router } from "express";
import type { AppDeps } from "../app";
import { setFlash } from "../middleware/flash";
import { requireAuth } from "../middleware/require-auth";
import { isHandle } from "../session-store/session-record";
import { endOtherSessions, endSession } from "./end-sessions";
import { needsPassword, reauthenticate, renewSession } from "./reauth";
import { sessionRows } from "./session-rows";

interface PageState {
  error?: string;
}

export function sessionsRoutes(deps: AppDeps): Router {
  const { sessions, users, passwords, config, lifetime, activity } = deps;
  const router = Router();

  async function render(req: Request, res: Response, status: number, state: PageState = {}) {
    const user = req.user!;
    const rows = sessionRows(await sessions.listUserSessions(user.id), user.sessionHandle);
    res.status(status).render("settings/sessions", {
      title: "Your sessions",
      rows,
      others: rows.filter((r) => !r.current).length,
      askPassword: needsPassword(req, config.reauthWindow),
      error: state.error ?? null,
    });
  }

  router.get("/settings/sessions", requireAuth, (req, res) => render(req, res, 200));

  router.post("/settings/sessions/revoke-others", requireAuth, async (req, res) => {
    const check = await reauthenticate(req, req.body?.password, config.reauthWindow, users, passwords);
    if (check.error !== null) return render(req, res, 401, { error: check.error });
    const ended = await endOtherSessions(sessions, activity, req, req.user!.id, req.user!.sessionHandle);
    if (check.entered) await renewSession(req, users, lifetime);
    setFlash(req, "success", ended === 1 ? "Signed out 1 other session." : `Signed out ${ended} other sessions.`);
    res.redirect(303, "/settings/sessions");
  });

  router.post("/settings/sessions/:id/revoke", requireAuth, async (req, res) => {
    const handle = req.params.id;
    if (!isHandle(handle)) return render(req, res, 404, { error: "That session was not found. It may have ended already." });
    if (handle === req.user!.sessionHandle) {
      return render(req, res, 400, { error: "That is this device. Use Sign out to end it." });
    }
    const check = await reauthenticate(req, req.body?.password, config.reauthWindow, users, passwords);
    if (check.error !== null) return render(req, res, 401, { error: check.error });
    if (!(await endSession(sessions, activity, req, req.user!.id, handle))) {
      return render(req, res, 404, { error: "That session was not found. It may have ended already." });
    }
    if (check.entered) await renewSession(req, users, lifetime);
    setFlash(req, "success", "Session ended.");
    res.redirect(303, "/settings/sessions");
  });

  return router;
}
