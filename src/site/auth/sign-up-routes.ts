import ejs from "ejs";
import { type Response, Router } from "express";
import { z } from "zod";
import { type Sessions, setFlash } from "../../package";
import type { RouteDeps } from "../app-deps";
import { csrfField, email, newPassword, parseForm, text } from "../forms";
import { accountOf, type User } from "../users/user-repository";
import { signUpLimit, signUpMailLimit } from "./limits";

const signupForm = z.object({
  ...csrfField,
  name: text("Name", 100),
  email,
  password: newPassword(),
});
const confirmForm = z.object({ ...csrfField, t: z.string().max(1024) });

/**
 * Creating an account, answered the same whether or not the address has one: the form says
 * "check your mail" either way, and the mail says what is true. A new address gets a link that
 * finishes the account (the address is confirmed by opening it, and the account signs in); an
 * address with an account gets a note that it has one. A sign-up for an address whose account
 * was never confirmed takes that account over (name and password), voiding earlier links: an
 * account someone made with another person's address before they did is theirs only once
 * they open the link.
 */
export function signUpRoutes(deps: RouteDeps): Router {
  const { config, kit, users, passwords, rateLimitStore } = deps;
  const router = Router();
  const form = (res: Response, status: number, input: Record<string, unknown>, errors: Record<string, string>) =>
    res.status(status).render("auth/signup", { title: "Create your account", input, errors });
  const sent = (_req: unknown, res: Response) => res.redirect(303, "/signup/sent");

  router.get("/signup", (req, res) => {
    if (req.sessionUser) return res.redirect(303, "/dashboard");
    form(res, 200, {}, {});
  });

  router.post(
    "/signup",
    signUpLimit(config, rateLimitStore),
    (req, res, next) => {
      const parsed = parseForm(signupForm, req.body);
      if (!parsed.ok) return void form(res, 400, parsed.input, parsed.errors);
      res.locals.signUp = parsed.data;
      next();
    },
    // Mails one address gets per hour: past it, the same answer and no mail.
    signUpMailLimit(rateLimitStore, sent),
    async (req, res) => {
      const { name, email: address, password } = res.locals.signUp as z.infer<typeof signupForm>;
      // Hashed whether or not the address is taken: the answer takes as long either way.
      const passwordHash = await passwords.hash(password);
      const existing = await users.findByEmail(address);
      const created = existing ? null : await users.create({ name, email: address, passwordHash, confirmed: false });
      const holder = created ?? existing ?? (await users.findByEmail(address));
      if (created) sendFinishLink(deps, created);
      else if (holder && !holder.confirmed) {
        // Never confirmed: whoever signs up now holds it until the address is confirmed; earlier links die with the old credentials.
        const retaken = await users.update(holder.id, { name, passwordHash, newCredentials: true });
        if (retaken) sendFinishLink(deps, retaken);
      } else if (holder && !holder.disabled) sendAccountExists(deps, holder);
      sent(req, res);
    },
  );

  router.get("/signup/sent", (_req, res) => res.render("auth/signup-sent", { title: "Check your mail" }));

  /** The link's account, when the link is good: signed, unexpired, unused, made for its current credentials, not confirmed yet. */
  async function userOfLink(claims: ReturnType<Sessions["links"]["read"]>): Promise<User | null> {
    if (claims === null || claims === "expired" || (await kit.links.used(claims))) return null;
    const user = await users.findById(claims.userId);
    return user && !user.disabled && !user.confirmed && user.cv === claims.version ? user : null;
  }
  const badLink = (res: Response) =>
    res.status(410).render("auth/confirm", {
      title: "Finish creating your account",
      token: null,
      errors: { form: "This link has expired, was used already, or a newer one was sent. Create the account again to get a new one, or sign in." },
    });

  // Opening the link changes nothing (a mail scanner opens links too): its button does.
  router.get("/signup/confirm", async (req, res) => {
    const user = await userOfLink(kit.links.read(req.query.t, "sign-up"));
    if (!user) return badLink(res);
    res.render("auth/confirm", { title: "Finish creating your account", token: req.query.t, name: user.name, errors: {} });
  });

  router.post("/signup/confirm", async (req, res) => {
    const parsed = parseForm(confirmForm, req.body);
    const claims = parsed.ok ? kit.links.read(parsed.data.t, "sign-up") : null;
    const user = await userOfLink(claims);
    // Once, whatever requests carry the same link at the same time.
    if (!user || claims === null || claims === "expired" || !(await kit.links.take(claims))) return badLink(res);
    const confirmed = await users.update(user.id, { confirmed: true });
    if (!confirmed) return badLink(res);
    await kit.signIn(req, accountOf(confirmed));
    setFlash(req, "success", `Welcome, ${confirmed.name}. Your account is ready.`);
    res.redirect(303, "/dashboard");
  });

  return router;
}

/** The link that confirms the address and finishes the account. */
export function sendFinishLink({ config, kit }: RouteDeps, user: User): void {
  const link = `${config.publicUrl}/signup/confirm?t=${kit.links.make("sign-up", user.id, { version: user.cv })}`;
  const e = ejs.escapeXML;
  kit.mail.enqueue({
    to: user.email,
    subject: "Finish creating your account",
    text: `Hello,\n\nTo finish creating your account with this address, open:\n${link}\n\nThe link works once, for a day. If you did not ask for an account, ignore this mail: nothing is created.`,
    html: `<p>Hello,</p><p>To finish creating your account with this address, <a href="${e(link)}">open this link</a>.</p><p>The link works once, for a day. If you did not ask for an account, ignore this mail: nothing is created.</p>`,
  });
}

/** Someone asked for an account with an address that has one: its owner is told, nothing changes. */
function sendAccountExists({ config, kit }: RouteDeps, user: User): void {
  const signIn = `${config.publicUrl}/login`;
  const reset = `${config.publicUrl}/password/forgot`;
  const e = ejs.escapeXML;
  kit.mail.enqueue({
    to: user.email,
    subject: "You already have an account",
    text: `Hello,\n\nSomeone (we hope you) asked to create an account with this address, which has one already. Sign in at:\n${signIn}\n\nForgot your password? Set a new one at:\n${reset}\n\nIf it was not you, ignore this mail: nothing changed.`,
    html: `<p>Hello,</p><p>Someone (we hope you) asked to create an account with this address, which has one already. <a href="${e(signIn)}">Sign in</a>, or, if you forgot your password, <a href="${e(reset)}">set a new one</a>.</p><p>If it was not you, ignore this mail: nothing changed.</p>`,
  });
}
