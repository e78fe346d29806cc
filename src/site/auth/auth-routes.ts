import { Router } from "express";
import { z } from "zod";
import { safeNext } from "../../package";
import { recordActivity } from "../../package/site-kit-entry";
import type { RouteDeps } from "../app-deps";
import { csrfField, parseForm } from "../forms";
import { accountOf } from "../users/user-repository";
import { tooMany } from "./limits";
import { sendFinishLink } from "./sign-up-routes";

const loginForm = z.object({
  ...csrfField,
  email: z.string({ error: "Enter your email address." }).trim().min(1, "Enter your email address.").max(254, "Email must be at most 254 characters."),
  password: z.string({ error: "Enter your password." }).min(1, "Enter your password.").max(256, "That password is too long."),
  remember: z.unknown().optional(),
  next: z.unknown().optional(),
});

/** One message for every wrong email or password, so the form reveals no accounts. */
const WRONG_CREDENTIALS = "That email and password do not match an account.";

export function authRoutes(deps: RouteDeps): Router {
  const { kit, users, activity, passwords, throttle, metrics } = deps;
  const router = Router();

  router.get("/login", (req, res) => {
    const next = typeof req.query.next === "string" ? safeNext(req.query.next) : "";
    if (req.sessionUser) return res.redirect(303, next || "/dashboard");
    // Just signed out (see /logout): what no header can do for a browser's own history.
    res.render("auth/login", { title: "Sign in", input: { next }, errors: {}, signedOut: "signed-out" in req.query });
  });

  router.post("/login", async (req, res) => {
    const form = parseForm(loginForm, req.body);
    const next = safeNext((req.body as Record<string, unknown> | undefined)?.next);
    if (!form.ok) {
      return res.status(400).render("auth/login", { title: "Sign in", input: { ...form.input, next }, errors: form.errors });
    }
    const { email: address, password: secret, remember } = form.data;
    const user = await users.findByEmail(address);
    // Counted before the hash runs; the right password gives its failure back.
    const checked = await throttle.check(req, { email: address, credentialVersion: user?.cv }, () =>
      user ? passwords.verify(secret, user.passwordHash) : passwords.verifyDummy(secret),
    );
    if (checked.outcome === "throttled") {
      metrics?.signIns.inc({ outcome: "throttled" });
      return tooMany(res, checked.throttled);
    }
    const valid = checked.outcome === "right";
    if (user && !valid) await recordActivity(activity, user.id, req, "sign_in_failed");
    if (!user || !valid) {
      metrics?.signIns.inc({ outcome: "wrong_password" });
      // 422, not 401: a form's error, shown at once in every browser (a 401 without a
      // WWW-Authenticate challenge makes lynx ask whether to show the page at all).
      return res.status(422).render("auth/login", {
        title: "Sign in",
        input: { email: address, next },
        errors: { form: WRONG_CREDENTIALS },
      });
    }
    // The right password of an account whose address was never confirmed: only whoever made it
    // knows that password, so saying so tells nobody else anything. A new link goes out.
    if (!user.confirmed) {
      sendFinishLink(deps, user);
      return res.status(403).render("auth/login", {
        title: "Sign in",
        input: { email: address, next },
        errors: { form: "Confirm your email address first: we sent a new link to finish creating your account. It works once, for a day." },
      });
    }
    if (user.disabled) {
      metrics?.signIns.inc({ outcome: "disabled" });
      return res.status(403).render("auth/login", {
        title: "Sign in",
        input: { email: address, next },
        errors: { form: "This account has been disabled. Please contact the site's administrators." },
      });
    }
    // Raise an old hash to today's cost while the password is at hand.
    const current = passwords.needsRehash(user.passwordHash) ? ((await users.update(user.id, { passwordHash: await passwords.hash(secret) })) ?? user) : user;
    const outcome = await kit.signIn(req, accountOf(current), { remember: remember !== undefined && remember !== "", next });
    metrics?.signIns.inc({ outcome: "ok" });
    // At the per-account cap with SESSION_LIMIT_POLICY=ask: the person picks a session to end first.
    res.redirect(303, outcome === "choose" ? "/settings/sessions/choose" : next);
  });

  router.post("/logout", async (req, res) => {
    await kit.signOut(req, res);
    // Said by the address, not a cookie: the sign-out clears the browser's cookies (Clear-Site-Data).
    res.redirect(303, "/login?signed-out");
  });

  return router;
}
