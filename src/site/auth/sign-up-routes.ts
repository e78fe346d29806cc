import ejs from "ejs";
import { type Response, Router } from "express";
import { z } from "zod";
import { type Sessions, setFlash } from "../../package";
import type { RouteDeps } from "../app-deps";
import { csrfField, email, type FieldErrors, newPassword, parseForm, text } from "../forms";
import { accountOf, type User } from "../users/user-repository";
import { signUpLimit, signUpMailLimit, tooMany } from "./limits";

const signupForm = z.object({
  ...csrfField,
  name: text("Name", 100),
  email,
  password: newPassword(),
});
/** What the confirm page's field asks (its label in views/auth/confirm.ejs), said again when it comes empty. */
const ENTER_PASSWORD = "Enter the password you chose when you signed up";
const confirmForm = z.object({
  ...csrfField,
  t: z.string().max(1024),
  password: z
    .string({ error: `${ENTER_PASSWORD}.` })
    .min(1, `${ENTER_PASSWORD}.`)
    .max(256, "That password is too long: a password chosen at sign-up has at most 256 characters."),
});
/** A wrong password on the confirm page: the link still works, with the password of the latest sign-up. */
const WRONG_PASSWORD = "That is not the password this account was last signed up with.";

/**
 * Creating an account, answered the same whether or not the address has one: the form says
 * "check your mail" either way, and the mail says what is true. A new address gets a link that
 * finishes the account (its page confirms the address, and the account signs in); an address
 * with an account gets a note that it has one. A sign-up for an address whose account
 * was never confirmed takes that account over (name and password), voiding earlier links: an
 * account someone made with another person's address before they did is theirs only once
 * they open the link. The link's page asks for the password of that sign-up: whoever made the
 * account first can sign up again after the owner did, and so have the owner's newest link
 * carry their password, but cannot make the owner's password match it.
 */
export function signUpRoutes(deps: RouteDeps): Router {
  const { config, kit, users, passwords, throttle, rateLimitStore } = deps;
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
      await claimAddress(deps, { name, email: address, passwordHash });
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
  /** The link's page: its form, with the link's token in it, and what was wrong with the password last sent. */
  const confirmPage = (res: Response, status: number, token: string, user: User, errors: FieldErrors) =>
    res.status(status).render("auth/confirm", { title: "Finish creating your account", token, name: user.name, errors });

  // Opening the link changes nothing (a mail scanner opens links too): its button does.
  router.get("/signup/confirm", async (req, res) => {
    const user = await userOfLink(kit.links.read(req.query.t, "sign-up"));
    if (!user) return badLink(res);
    confirmPage(res, 200, req.query.t as string, user, {});
  });

  router.post("/signup/confirm", async (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.t;
    const claims = kit.links.read(token, "sign-up");
    const user = await userOfLink(claims);
    if (!user || claims === null || claims === "expired") return badLink(res);
    const form = parseForm(confirmForm, req.body);
    if (!form.ok) return confirmPage(res, 400, token as string, user, form.errors);
    // The sign-in form's counts: the password is counted for the account and the network before the hash runs.
    const checked = await throttle.check(req, { email: user.email, credentialVersion: user.cv }, () => passwords.verify(form.data.password, user.passwordHash));
    if (checked.outcome === "throttled") return tooMany(res, checked.throttled);
    // A wrong password leaves the link unused: its owner may try again.
    if (checked.outcome === "wrong") return confirmPage(res, 422, token as string, user, { password: WRONG_PASSWORD });
    // Once, whatever requests carry the same link at the same time.
    if (!(await kit.links.take(claims))) return badLink(res);
    // Only the account whose password was just checked: a sign-up that took it over since then wins, and this link is void.
    const confirmed = await users.update(user.id, { confirmed: true }, { cv: user.cv, confirmed: false });
    if (!confirmed) return badLink(res);
    await kit.signIn(req, accountOf(confirmed));
    setFlash(req, "success", `Welcome, ${confirmed.name}. Your account is ready.`);
    res.redirect(303, "/dashboard");
  });

  return router;
}

/** Tries a sign-up's claim on its address makes before it gives up: each lost only to another request's change of that account. */
const CLAIM_TRIES = 3;

/**
 * What a valid sign-up does to its address: a new account, or the takeover of one never
 * confirmed (earlier links die with its old credentials), each with a link by mail; or, for
 * a confirmed account, a note to its owner. The takeover is compare-and-set on what was read:
 * when another sign-up or a confirmation changed the account in between, it is read again.
 */
async function claimAddress(deps: RouteDeps, signUp: { name: string; email: string; passwordHash: string }): Promise<void> {
  const { users } = deps;
  const { name, passwordHash } = signUp;
  for (let i = 0; i < CLAIM_TRIES; i++) {
    const holder = await users.findByEmail(signUp.email);
    if (!holder) {
      const created = await users.create({ ...signUp, confirmed: false });
      if (created) return sendFinishLink(deps, created);
    } else if (holder.confirmed) {
      if (!holder.disabled) sendAccountExists(deps, holder);
      return;
    } else {
      const retaken = await users.update(holder.id, { name, passwordHash, newCredentials: true }, { cv: holder.cv, confirmed: false });
      if (retaken) return sendFinishLink(deps, retaken);
    }
  }
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
