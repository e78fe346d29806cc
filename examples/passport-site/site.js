// The site: Passport's local strategy, its own sign-in form, Handlebars pages.
const path = require("node:path");
const express = require("express");
const { engine } = require("express-handlebars");
const session = require("express-session");
const { Passport } = require("passport");
const { Strategy: LocalStrategy } = require("passport-local");
const { createSessions } = require("express-user-sessions");

/** Builds the site on its users (users.js). */
function createSite({ users, secret, redis, env, keyPrefix }) {
  const toAccount = (user) => user && { id: user.id, name: user.name, credentialVersion: user.password_version };
  const accounts = { findById: async (id) => toAccount(users.findById(id)), verifyPassword: async (id, pw) => users.checkPassword(users.findById(id), pw) };
  const sessions = createSessions({ accounts, redis, secret, env, keyPrefix, userIdOf: (req) => req.user?.id });
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = users.findByUsername(username);
      done(null, users.checkPassword(user, password) ? user : false);
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, users.findById(id) ?? false));

  const app = express();
  app.engine("handlebars", engine());
  app.set("view engine", "handlebars");
  app.set("views", path.join(__dirname, "views"));
  app.use(express.urlencoded({ extended: false, limit: "16kb" }));
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: "lax" } }));
  app.use(require("csurf")());
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(sessions.track());
  app.use((req, res, next) => {
    res.locals.user = req.user;
    res.locals.csrfToken = req.csrfToken();
    next();
  });

  app.get("/", (_req, res) => res.render("home", { title: "Home" }));
  app.get("/login", (req, res) => res.render("login", { title: "Sign in", failed: req.query.failed !== undefined }));
  app.post("/login", passport.authenticate("local", { failureRedirect: "/login?failed" }), (req, res) => {
    if (req.body.remember === "on") req.session.cookie.maxAge = 30 * 24 * 3600 * 1000;
    res.redirect(303, "/");
  });
  app.post("/logout", (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect(303, "/"))));
  app.use("/account", sessions.router({ layout: "sessions-wrapper" }));
  app.use(sessions.errorHandler());
  app.use((err, _req, res, _next) => res.status(err.status ?? 500).send(err.status === 403 ? "That form has expired." : "Something went wrong."));
  return { app, sessions };
}

module.exports = { createSite };
