import { Router } from "express";
import { z } from "zod";
import { setFlash } from "../../package";
import { answerRefusal, recordActivity } from "../../package/site-kit-entry";
import type { RouteDeps } from "../app-deps";
import { csrfField, newPassword, parseForm, password, text } from "../forms";
import { isLastActiveAdmin } from "../users/user-repository";

const profileForm = z.object({ ...csrfField, name: text("Name", 100) });
const passwordForm = z.object({
  ...csrfField,
  current_password: password("Current password", 1),
  new_password: newPassword("New password"),
});

export function settingsRoutes({ kit, users, sessions, passwords, activity, passwordChecks, requireAuth }: RouteDeps): Router {
  const router = Router();
  router.use("/settings", requireAuth);

  router.get("/settings", (_req, res) => res.redirect(303, "/settings/profile"));

  router.get("/settings/profile", (req, res) => {
    res.render("settings/profile", { title: "Profile", input: { name: req.sessionUser!.name }, errors: {} });
  });

  router.post("/settings/profile", async (req, res) => {
    const form = parseForm(profileForm, req.body);
    if (!form.ok) return res.status(400).render("settings/profile", { title: "Profile", input: form.input, errors: form.errors });
    const updated = await users.update(req.sessionUser!.id, { name: form.data.name });
    if (!updated) return res.redirect(303, "/login");
    // Every session of the user shows the new name on its next request.
    await kit.accountChanged(updated.id, req);
    await recordActivity(activity, updated.id, req, "name_changed");
    setFlash(req, "success", "Your name was saved.");
    res.redirect(303, "/settings/profile");
  });

  router.get("/settings/password", (_req, res) => {
    res.render("settings/password", { title: "Password", errors: {} });
  });

  router.post("/settings/password", async (req, res) => {
    const form = parseForm(passwordForm, req.body);
    if (!form.ok) return res.status(400).render("settings/password", { title: "Password", errors: form.errors });
    const refused = await passwordChecks.verify(req, form.data.current_password);
    if (refused) {
      return answerRefusal(res, refused, (status, message) =>
        res.status(status).render("settings/password", { title: "Password", errors: { current_password: message } }),
      );
    }
    const updated = await users.update(req.sessionUser!.id, {
      passwordHash: await passwords.hash(form.data.new_password),
      newCredentials: true,
    });
    if (!updated) return res.redirect(303, "/login");
    // Sessions learn the new credential version first: one that survives a failed end below
    // is refused on its next request all the same.
    await kit.accountChanged(updated.id, req);
    await sessions.endUserSessions(updated.id, req.sessionUser!.sessionHandle, { reason: "password", at: Date.now() });
    await recordActivity(activity, updated.id, req, "password_changed");
    await kit.renewSession(req);
    setFlash(req, "success", "Your password was changed. Every other session was signed out.");
    res.redirect(303, "/settings/password");
  });

  router.post("/settings/delete-account", async (req, res) => {
    const refused = await passwordChecks.verify(req, req.body?.password);
    if (refused) {
      return answerRefusal(res, refused, (status, message) =>
        res.status(status).render("settings/profile", { title: "Profile", input: { name: req.sessionUser!.name }, errors: { delete_password: message } }),
      );
    }
    const userId = req.sessionUser!.id;
    if (req.sessionUser!.role === "admin" && (await isLastActiveAdmin(users, userId))) {
      return res.status(409).render("settings/profile", {
        title: "Profile",
        input: { name: req.sessionUser!.name },
        errors: { delete_password: "You are the only administrator. Make another account an administrator before deleting this one." },
      });
    }
    // The account goes first: a sign-in racing this finds no account, and one that completed
    // just before is in the index that the revocation reads next.
    await users.delete(userId);
    await sessions.endUserSessions(userId, undefined, { reason: "deleted", at: Date.now() });
    await activity.forget(userId);
    // This session was among those ended: the browser leaves it, and the message goes by cookie.
    await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
    setFlash(req, "info", "Your account was deleted and every session of it was signed out.");
    res.redirect(303, "/");
  });

  return router;
}
