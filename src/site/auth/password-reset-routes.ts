import ejs from "ejs";
import { type RequestHandler, type Response, Router } from "express";
import { z } from "zod";
import { type Sessions, setFlash } from "../../package";
import { recordActivity } from "../../package/site-kit-entry";
import type { RouteDeps } from "../app-deps";
import { csrfField, email, newPassword, parseForm } from "../forms";
import { resetLimit, resetMailLimit } from "./limits";

const forgotForm = z.object({ ...csrfField, email });
const resetForm = z.object({ ...csrfField, t: z.string().max(1024), password: newPassword("New password") });

/** The same answer whether or not the address has an account: the form reveals none. */
const SENT = "If an account uses that address, a link to set a new password is on its way. It works once, for an hour.";

/**
 * "Forgot your password?": a signed link by mail (the package's links: one use, one hour, void
 * once the password changes), then a new password, which ends every session of the account.
 */
export function passwordResetRoutes({ config, kit, users, activity, passwords, rateLimitStore }: RouteDeps): Router {
  const router = Router();

  /** The link's account, when the link is good: signed, unexpired, unused, and from before no password change. */
  async function userOfLink(claims: ReturnType<Sessions["links"]["read"]>) {
    if (claims === null || claims === "expired" || (await kit.links.used(claims))) return null;
    const user = await users.findById(claims.userId);
    return user && !user.disabled && user.cv === claims.version ? user : null;
  }
  const badLink = (res: Response) =>
    res
      .status(410)
      .render("auth/reset", { title: "Set a new password", token: null, errors: { form: "This link has expired or was used already. Ask for a new one." } });

  router.get("/password/forgot", (_req, res) => res.render("auth/forgot", { title: "Forgot your password?", input: {}, errors: {}, sent: false }));

  const sent: RequestHandler = (_req, res) => res.render("auth/forgot", { title: "Forgot your password?", input: {}, errors: {}, sent: SENT });
  // The form is checked before the per-address count: a mistyped form counts for no mailbox.
  const validForm: RequestHandler = (req, res, next) => {
    const form = parseForm(forgotForm, req.body);
    if (!form.ok) return void res.status(400).render("auth/forgot", { title: "Forgot your password?", input: form.input, errors: form.errors, sent: false });
    res.locals.forgotEmail = form.data.email;
    next();
  };

  router.post("/password/forgot", resetLimit(config, rateLimitStore), validForm, resetMailLimit(rateLimitStore, sent), async (req, res, next) => {
    const user = await users.findByEmail(res.locals.forgotEmail as string);
    if (user && !user.disabled) {
      const link = `${config.publicUrl}/password/reset?t=${kit.links.make("reset", user.id, { version: user.cv })}`;
      const e = ejs.escapeXML;
      // No name in the greeting: the address was never confirmed, and the name is whatever its account chose.
      kit.mail.enqueue({
        to: user.email,
        subject: "Set a new password",
        text: `Hello,\n\nSomeone (we hope you) asked to set a new password for this account. To do so, open:\n${link}\n\nThe link works once, for an hour. If you did not ask, ignore this mail: nothing changes.`,
        html: `<p>Hello,</p><p>Someone (we hope you) asked to set a new password for this account. <a href="${e(link)}">Set a new password</a>.</p><p>The link works once, for an hour. If you did not ask, ignore this mail: nothing changes.</p>`,
      });
    }
    sent(req, res, next);
  });

  router.get("/password/reset", async (req, res) => {
    if (!(await userOfLink(kit.links.read(req.query.t, "reset")))) return badLink(res);
    res.render("auth/reset", { title: "Set a new password", token: req.query.t, errors: {} });
  });

  router.post("/password/reset", async (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.t;
    const claims = kit.links.read(token, "reset");
    const user = await userOfLink(claims);
    if (!user || claims === null || claims === "expired") return badLink(res);
    const form = parseForm(resetForm, req.body);
    if (!form.ok) return res.status(400).render("auth/reset", { title: "Set a new password", token, errors: form.errors });
    // Once, whatever requests carry the same link at the same time.
    if (!(await kit.links.take(claims))) return badLink(res);
    // The link came by mail: the address is confirmed too, if it was not yet.
    const updated = await users.update(user.id, { passwordHash: await passwords.hash(form.data.password), newCredentials: true, confirmed: true });
    if (!updated) return badLink(res);
    await kit.accountChanged(updated.id);
    await kit.store.endUserSessions(updated.id, undefined, { reason: "password", at: Date.now() });
    await recordActivity(activity, updated.id, req, "password_changed", { by: "a reset link sent by mail" });
    setFlash(req, "success", "Your password was changed and every session of the account was signed out. Sign in with the new password.");
    res.redirect(303, "/login");
  });

  return router;
}
