// The site: its own pages, sign-up and sign-in forms and layout. The lines between the
// "sessions" markers are all it takes to add sessions people can see and end.
const path = require("node:path");
const express = require("express");
const { createSessions } = require("express-user-sessions");

/** A user row as the sessions see it: a new password bumps password_version, which ends older sessions. */
const toAccount = (user) => user && { id: user.id, name: user.name, email: user.email, credentialVersion: user.passwordVersion };

/** Builds the site on an accounts store (accounts.js) and, optionally, a connected Redis client. */
async function createSite({ accounts, redis, secret, env, keyPrefix }) {
  const app = express();
  app.set("view engine", "ejs");
  app.set("views", path.join(__dirname, "views"));
  app.use(express.urlencoded({ extended: false, limit: "16kb" }));

  // --- sessions: start -----------------------------------------------------------------
  const sessions = createSessions({
    accounts: {
      findById: async (id) => toAccount(await accounts.findById(id)),
      verifyPassword: async (id, password) => accounts.checkPassword(await accounts.findById(id), password),
    },
    redis,
    secret,
    env,
    keyPrefix,
    signInPath: "/signin",
  });
  app.use(sessions.middleware()); // the session, req.user, csrfToken() for forms, CSRF checks
  app.use("/account", sessions.router({ layout: "layout" })); // /account/sessions, /account/activity
  app.use("/api", sessions.apiRouter()); // the same as JSON
  const signIn = async (req, res, user) => {
    await sessions.signIn(req, toAccount(user), { remember: req.body.remember === "on" });
    res.redirect(303, "/account/sessions");
  };
  app.post("/signout", async (req, res) => {
    await sessions.signOut(req, res);
    res.redirect(303, "/");
  });
  // --- sessions: end -------------------------------------------------------------------

  const field = (value) => (typeof value === "string" ? value : "");
  app.get("/", (_req, res) => res.render("home", { title: "Home" }));
  app.get("/signup", (_req, res) => res.render("signup", { title: "Sign up", error: null }));
  app.post("/signup", async (req, res) => {
    const [email, name, password] = [field(req.body.email), field(req.body.name), field(req.body.password)];
    if (!email.includes("@") || !name || password.length < 10) {
      return res.status(400).render("signup", { title: "Sign up", error: "Give a name, an email and a password of 10 characters or more." });
    }
    const user = await accounts.create(email, name, password);
    if (!user) return res.status(409).render("signup", { title: "Sign up", error: "That email already has an account." });
    await signIn(req, res, user);
  });
  app.get("/signin", (_req, res) => res.render("signin", { title: "Sign in", error: null }));
  app.post("/signin", async (req, res) => {
    const [email, password] = [field(req.body.email), field(req.body.password)];
    const user = await accounts.findByEmail(email);
    // Counted per address and per account before the password is hashed, as the sessions page's checks are.
    const checked = await sessions.throttle.check(req, { email, credentialVersion: user?.passwordVersion }, () => accounts.checkPassword(user, password));
    if (checked.outcome === "throttled") {
      const { retryAfter, message } = checked.throttled;
      return res.status(429).set("Retry-After", String(retryAfter)).render("signin", { title: "Sign in", error: message });
    }
    // 422: the form again, which every browser shows at once (a 401 would need a WWW-Authenticate challenge).
    if (checked.outcome === "wrong") return res.status(422).render("signin", { title: "Sign in", error: "That email and password do not match." });
    await signIn(req, res, user);
  });
  app.use(sessions.errorHandler()); // a forged form: 403; Redis away: 503; never a stack trace
  return { app, sessions };
}

module.exports = { createSite };
