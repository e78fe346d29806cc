/**
 * A public site as it switches from connect-redis: Express's own examples/auth, read from
 * expressjs/express's repository (a checkout or clone named by EXPRESS_REPO, else cloned once
 * into bench/.sites), written out three times with only the lines a switch changes:
 *
 * - "connect-redis": the site as it stands, its `session()` given connect-redis's store, which
 *   is how such a site keeps its sessions in Redis today;
 * - "store": the package's store in that `session()` instead, and nothing else, as the first
 *   step of docs/adopting.md's "Switching from connect-redis" (its long secret first, the old
 *   one kept after it, `legacy` for the sessions connect-redis kept);
 * - "store + track() + router": the whole of "Keep your sign-in": `track()` after `session()`,
 *   the sessions pages under /account in a wrapper of the site's own head and foot, and
 *   `errorHandler()`;
 * - "no session (the floor)": the same site with no session layer at all, every request
 *   signed in as "tj" from memory: what this machine takes to serve the page, under which no
 *   session layer can go.
 *
 * Each edit names the line it changes and fails loudly when the upstream file no longer has it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

export const SWITCH_VARIANTS = ["connect-redis", "store", "store + track() + router", "no session (the floor)"] as const;
export type SwitchVariant = (typeof SWITCH_VARIANTS)[number];

const ROOT = path.join(__dirname, "..");
const SITES = path.join(__dirname, ".sites");
const UPSTREAM = "https://github.com/expressjs/express";
const EXAMPLE = "examples/auth";

/** The repository to read the example from: EXPRESS_REPO, or a clone of the public one made once. */
function expressRepo(): string {
  if (process.env.EXPRESS_REPO) return process.env.EXPRESS_REPO;
  const clone = path.join(SITES, "express.git");
  if (!existsSync(clone)) {
    mkdirSync(SITES, { recursive: true });
    const cloned = spawnSync("git", ["clone", "--bare", "--depth", "1", UPSTREAM, clone], { stdio: "inherit" });
    if (cloned.status !== 0) throw new Error(`could not clone ${UPSTREAM}: set EXPRESS_REPO to a checkout (or bare clone) of it`);
  }
  return clone;
}

/** A file of the example as its repository holds it at HEAD, and which commit that is. */
function upstreamFile(repo: string, file: string): string {
  const shown = spawnSync("git", ["-C", repo, "show", `HEAD:${EXAMPLE}/${file}`], { encoding: "utf8" });
  if (shown.status !== 0) throw new Error(`${repo} has no ${EXAMPLE}/${file} at HEAD: ${shown.stderr}`);
  return shown.stdout;
}

function replaceOnce(source: string, line: string, by: string): string {
  if (source.split(line).length !== 2) throw new Error(`${EXAMPLE}/index.js no longer has exactly one "${line}": the switch's edits need updating`);
  return source.replace(line, () => by);
}

const SESSION_CALL = "app.use(session({";
const OLD_SECRET = "secret: 'shhhh, very secret'";

/** What each variant puts before the site's `session()`, in it, and after it. */
const EDITS: Record<SwitchVariant, { before: string; store: string; after: string; beforeListen: string }> = {
  "connect-redis": {
    before: [
      "var { RedisStore } = require('connect-redis');",
      "var { createClient } = require('redis');",
      "var client = createClient({ url: process.env.REDIS_URL });",
      "client.connect().catch(console.error);",
    ].join("\n"),
    store: "store: new RedisStore({ client }),",
    after: "",
    beforeListen: "",
  },
  store: {
    before: sessionsSetup(),
    store: "store: sessions.store,",
    after: "",
    beforeListen: "",
  },
  "store + track() + router": {
    before: sessionsSetup(),
    store: "store: sessions.store,",
    after: ["app.use(sessions.track());", "app.use('/account', sessions.router({ layout: 'sessions-wrapper' }));"].join("\n"),
    beforeListen: "app.use(sessions.errorHandler());",
  },
  "no session (the floor)": {
    before: [
      "app.use(function (req, res, next) { req.session = { user: users.tj }; next(); });",
      "session = function () { return function (req, res, next) { next(); }; };",
    ].join("\n"),
    store: "",
    after: "",
    beforeListen: "",
  },
};

/** createSessions as docs/adopting.md has a site without Passport write it, over this site's `users` and `authenticate`. */
function sessionsSetup(): string {
  return [
    "var { createSessions } = require('express-user-sessions');",
    "var secret = [process.env.SESSION_SECRET, 'shhhh, very secret'];",
    "var sessions = createSessions({",
    "  accounts: {",
    "    findById: async (id) => (Object.hasOwn(users, id) ? { id, name: users[id].name } : null),",
    "    verifyPassword: (id, password) => new Promise((resolve, reject) => authenticate(id, password, (err, user) => (err ? reject(err) : resolve(Boolean(user))))),",
    "  },",
    "  redis: process.env.REDIS_URL,",
    "  secret,",
    "  userIdOf: (req) => req.session.user?.name,",
    "  legacy: { prefix: 'sess:', userIdOf: (session) => session.user?.name },",
    "});",
  ].join("\n");
}

/**
 * Writes the example as `variant` runs it into bench/.sites and gives the path of its
 * index.js. The sites live inside this project, so `express`, `express-session`, `ejs`,
 * `connect-redis`, `redis` and `pbkdf2-password` resolve to the project's own; the package
 * resolves to this checkout's build (`npm run build`'s dist/package) by its published name.
 */
export function writeSwitchSite(variant: SwitchVariant): string {
  const repo = expressRepo();
  let source = upstreamFile(repo, "index.js");
  const edits = EDITS[variant];
  source = replaceOnce(source, "var express = require('../..');", "var express = require('express');");
  // Its users and their check come first, so that the package's `accounts` can name them.
  const usersAt = source.indexOf("// placeholder database");
  const endOfAuthenticate = source.indexOf("function restrict(");
  if (usersAt < 0 || endOfAuthenticate < usersAt)
    throw new Error(`${EXAMPLE}/index.js no longer has its users before restrict(): the switch's edits need updating`);
  const users = source.slice(usersAt, endOfAuthenticate);
  source = source.slice(0, usersAt) + source.slice(endOfAuthenticate);
  source = replaceOnce(source, SESSION_CALL, `${users}\n${edits.before}\n${SESSION_CALL}\n  ${edits.store}`);
  if (variant === "store" || variant === "store + track() + router") source = replaceOnce(source, OLD_SECRET, "secret: secret");
  source = replaceOnce(source, "}));\n", `}));\n${edits.after}\n`);
  source = replaceOnce(source, "if (!module.parent) {", `${edits.beforeListen}\nif (!module.parent) {`);
  source = replaceOnce(source, "app.listen(3000);", "app.listen(Number(process.env.PORT), '127.0.0.1');");

  const dir = path.join(SITES, `auth-${variant.replace(/\W+/g, "-").replace(/-+$/, "")}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "views"), { recursive: true });
  writeFileSync(path.join(dir, "index.js"), source);
  for (const view of ["head.ejs", "foot.ejs", "login.ejs"]) writeFileSync(path.join(dir, "views", view), upstreamFile(repo, `views/${view}`));
  writeFileSync(path.join(dir, "views", "sessions-wrapper.ejs"), "<%- include('head') %>\n<%- body %>\n<%- include('foot') %>\n");
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(path.join(ROOT, "dist", "package"), path.join(dir, "node_modules", "express-user-sessions"));
  return path.join(dir, "index.js");
}

/** The commit of the example the sites were written from. */
export function switchSiteCommit(): string {
  return spawnSync("git", ["-C", expressRepo(), "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
}
