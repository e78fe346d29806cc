import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ejs from "ejs";
import express, { type Express } from "express";
import { create as handlebars } from "express-handlebars";
import session from "express-session";
import pug from "pug";
import { type AccountSource, createSessions, type Sessions } from "../src/package/index";
import { browser, csrfFrom, quietMail } from "./helpers/app";

declare module "express-session" {
  interface SessionData {
    userId?: number;
  }
}

const accounts: AccountSource = {
  findById: async (id) => (id === "7" ? { id, name: "Ada Lovelace", email: "ada@example.com" } : null),
  verifyPassword: async () => false,
};
const secret = "a secret for the layout tests, long enough";
const FIXTURES = path.join(__dirname, "fixtures", "layouts");

/** How each view engine is set up, as a site using it would: the wrapper view is the site's. */
const engines: Record<string, (app: Express) => void> = {
  pug: (app) => {
    app.engine("pug", (pug as unknown as { __express: Parameters<Express["engine"]>[1] }).__express);
    app.set("view engine", "pug");
    app.set("views", path.join(FIXTURES, "pug"));
  },
  handlebars: (app) => {
    const views = path.join(FIXTURES, "handlebars");
    app.engine("handlebars", handlebars({ defaultLayout: "main", layoutsDir: path.join(views, "layouts") }).engine);
    app.set("view engine", "handlebars");
    app.set("views", views);
  },
  ejs: (app) => {
    app.engine("ejs", (ejs as unknown as { __express: Parameters<Express["engine"]>[1] }).__express);
    app.set("view engine", "ejs");
    app.set("views", path.join(FIXTURES, "ejs"));
  },
};

describe.each(Object.keys(engines))("the package's pages in a %s layout", (engine) => {
  let sessions: Sessions;
  let app: Express;
  beforeAll(async () => {
    sessions = createSessions({ accounts, secret, env: {}, events: quietMail, userIdOf: (req) => req.session?.userId });
    app = express();
    engines[engine](app);
    app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
    app.use(sessions.track());
    app.post("/login", (req, res) => {
      req.session.userId = 7;
      res.redirect(303, "/");
    });
    app.get("/", (_req, res) => res.send("home"));
    app.use("/account", sessions.router({ layout: "sessions-wrapper" }));
    app.use(sessions.errorHandler());
  });
  afterAll(async () => sessions.close());

  test("when the sessions and activity pages render, then they sit inside the site's <main>, titled, with the message after a change", async () => {
    const agent = browser(app);
    await agent.post("/login");
    await agent.get("/");
    const page = await agent.get("/account/sessions");
    expect(page.status).toBe(200);
    expect(page.text).toContain(`${engine === "pug" ? "Pug" : engine === "handlebars" ? "Handlebars" : "EJS"} site header`);
    expect(page.text).toMatch(/<title>Your sessions · \w+ site<\/title>/);
    // The page's HTML arrives whole inside the site's main, not escaped and not empty.
    expect(page.text).toMatch(
      /<main>[\s\S]*<div class="user-sessions">\s*<section class="panel">[\s\S]*This device[\s\S]*<\/section>\s*<\/div>[\s\S]*<\/main>/,
    );
    expect(page.text).not.toContain("&lt;section");

    const handle = /action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/name"/.exec(page.text)![1];
    const named = await agent
      .post(`/account/sessions/${handle}/name`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), name: "Work <laptop>" });
    expect(named.status).toBe(303);
    const after = await agent.get("/account/sessions");
    expect(after.text).toContain('<div class="user-sessions"><p class="flash flash-success" role="status">Named it &#34;Work &lt;laptop&gt;&#34;.</p></div>');

    const activity = await agent.get("/account/activity");
    expect(activity.text).toMatch(/<main>[\s\S]*Security activity[\s\S]*Signed in[\s\S]*<\/main>/);
  });
});

describe("the package's markup and styles in any layout", () => {
  const css = readFileSync(path.join(__dirname, "..", "src", "package", "views", "sessions.css"), "utf8");
  const selectors = css
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split("}")
    .map((rule) => rule.split("{")[0])
    .flatMap((list) => list.split(","))
    .map((selector) => selector.trim())
    .filter(Boolean);

  test("when a site links sessions.css in its own layout, then it styles nothing outside the package's container: no html, body or :root rule, no colour scheme", () => {
    expect(selectors.length).toBeGreaterThan(10);
    for (const selector of selectors) expect(selector).toMatch(/^\.user-sessions(-page)?( |$)/);
    expect(css).not.toMatch(/color-scheme/);
  });

  test("when no stylesheet is linked at all, then no words meant only for screen readers show: the buttons carry them in their accessible names", () => {
    const views = path.join(__dirname, "..", "src", "package", "views");
    for (const view of readdirSync(views).filter((f) => f.endsWith(".ejs"))) {
      expect(readFileSync(path.join(views, view), "utf8")).not.toContain("visually-hidden");
    }
    const sessionsView = readFileSync(path.join(views, "sessions.ejs"), "utf8");
    expect(sessionsView).toMatch(/aria-label="Sign out <%= row.label %>">Sign out<\/button>/);
  });
});
