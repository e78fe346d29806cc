import express from "express";
import request from "supertest";
import { parseRecord } from "../../src/package/session-store/session-record";
import { useViews } from "../../src/site/app";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import { type BackendKind, browser, cookieOf, SAFARI_IPHONE, signIn, signUp, submit, useTestApp } from "../helpers/app";
import { backendKinds, scanKeys } from "../helpers/topology";

describe.each<BackendKind>(backendKinds())("settings (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when someone renames themselves, then every session of theirs shows the new name on its next request", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    expect((await phone.get("/dashboard")).text).toContain("Ada Lovelace");
    const res = await submit(laptop, "/settings/profile", "/settings/profile", { name: "Countess of Lovelace" });
    expect(res.status).toBe(303);
    expect((await laptop.get("/settings/profile")).text).toContain("Your name was saved.");
    expect((await phone.get("/dashboard")).text).toContain("Signed in as <strong>Countess of Lovelace</strong>");
  });

  test("when the new name is empty or too long, then the form comes back with the message and the input", async () => {
    const agent = browser(ctx().app);
    await signUp(agent);
    const long = "x".repeat(101);
    const res = await submit(agent, "/settings/profile", "/settings/profile", { name: long });
    expect(res.status).toBe(400);
    expect(res.text).toContain("Name must be at most 100 characters.");
    expect(res.text).toContain(`value="${long}"`);
    expect((await agent.get("/dashboard")).text).toContain("Ada Lovelace");
  });

  test("when the password changes, then other sessions end, this one gets a new id, and only the new password works", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    const wrong = await submit(laptop, "/settings/password", "/settings/password", {
      current_password: "not it at all",
      new_password: "a brand new passphrase",
    });
    expect(wrong.status).toBe(422);
    expect((await phone.get("/dashboard")).status).toBe(200);

    const res = await submit(laptop, "/settings/password", "/settings/password", {
      current_password: account.password,
      new_password: "a brand new passphrase",
    });
    expect(res.status).toBe(303);
    expect(cookieOf(res)).toMatch(/^sid=/);
    expect((await laptop.get("/settings/password")).text).toContain("Every other session was signed out.");
    expect((await phone.get("/dashboard")).status).toBe(303);
    expect((await signIn(browser(ctx().app), account)).status).toBe(422);
    expect((await signIn(browser(ctx().app), { ...account, password: "a brand new passphrase" })).status).toBe(303);
  });

  test.each(["password1", "Qwertyuiop", "iloveyou"])(
    "when the new password is the common %s, then it is refused with the reason and the old one stays",
    async (common) => {
      const agent = browser(ctx().app);
      const account = await signUp(agent);
      const res = await submit(agent, "/settings/password", "/settings/password", { current_password: account.password, new_password: common });
      expect(res.status).toBe(400);
      expect(res.text).toContain("one of the most common passwords");
      expect(res.text).toContain('id="new_password-error"');
      expect((await signIn(browser(ctx().app), account)).status).toBe(303);
    },
  );

  test("when a sign-in completes while the account is being deleted, then that session ends too", async () => {
    const laptop = browser(ctx().app);
    const account = await signUp(laptop);
    const racer = browser(ctx().app, SAFARI_IPHONE);
    const users = ctx().deps.users;
    const remove = users.delete.bind(users);
    // A sign-in on another device that completes right as the deletion starts.
    users.delete = async (id: string) => {
      expect((await signIn(racer, account)).status).toBe(303);
      return remove(id);
    };
    try {
      const res = await submit(laptop, "/settings/profile", "/settings/delete-account", { password: account.password });
      expect(res.status).toBe(303);
    } finally {
      users.delete = remove;
    }
    expect((await racer.get("/dashboard")).status).toBe(303);
    expect(await users.findByEmail(account.email)).toBeNull();
  });

  test("when the account is deleted with the password, then every session ends and it cannot sign in", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    const userId = (await ctx().deps.users.findByEmail(account.email))!.id;
    const wrong = await submit(laptop, "/settings/profile", "/settings/delete-account", { password: "not the password" });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain("That password is not correct.");
    const res = await submit(laptop, "/settings/profile", "/settings/delete-account", { password: account.password });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    expect((await laptop.get("/")).text).toContain("Your account was deleted");
    expect((await phone.get("/dashboard")).status).toBe(303);
    expect((await signIn(browser(ctx().app), account)).status).toBe(422);
    expect(await ctx().deps.users.findByEmail(account.email)).toBeNull();
    const redis = ctx().redis;
    if (redis) {
      // Nothing of the account is left: no user hash, no email key, no index, no session.
      const keys = await scanKeys(redis, `${ctx().prefix}*`);
      expect(keys.filter((k) => k.includes(userId) || k.includes(account.email))).toEqual([]);
      const left = await Promise.all(keys.filter((k) => /sess:[A-Za-z0-9_-]{22}$/.test(k)).map(async (k) => parseRecord(await redis.get(k))?.uid));
      expect(left).not.toContain(userId);
    }
  });

  test("when a role is granted, then every session of the user has it on its next request", async () => {
    const laptop = browser(ctx().app);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(laptop);
    await signIn(phone, account);
    expect((await phone.get("/dashboard")).text).not.toContain("Administrator");
    const changed = await setRole(ctx().deps.users, ctx().deps.kit, account.email.toUpperCase(), "admin", OPERATOR);
    expect(changed?.after.role).toBe("admin");
    expect((await laptop.get("/dashboard")).text).toContain("Administrator");
    expect((await phone.get("/dashboard")).text).toContain("Administrator");
    expect(await setRole(ctx().deps.users, ctx().deps.kit, "nobody@example.com", "admin", OPERATOR)).toBeNull();
  });
});

describe("requireRole", () => {
  const ctx = useTestApp("embedded");
  const appWith = (role: "user" | "admin" | null) => {
    const { requireRole } = ctx().deps.kit;
    const app = express();
    useViews(app);
    app.use((req, res, next) => {
      if (role) req.sessionUser = { id: "u1", name: "A", email: "a@example.com", role, org: null, sessionHandle: "h" };
      res.locals.currentUser = req.sessionUser ?? null;
      res.locals.csrfToken = () => "t";
      res.locals.flash = () => null;
      res.locals.path = req.path;
      res.locals.signInNotice = null;
      next();
    });
    app.get("/admin", requireRole("admin"), (_req, res) => res.send("console"));
    app.get("/api/admin", requireRole("admin"), (_req, res) => res.json({ ok: true }));
    return app;
  };

  test("when the user lacks the role, then the page answers 403 with the Unauthorized page", async () => {
    const res = await request(appWith("user")).get("/admin");
    expect(res.status).toBe(403);
    expect(res.text).toContain("<h1>Not allowed</h1>");
    expect(res.text).toContain('<link rel="stylesheet" href="/style.css">');
    expect((await request(appWith("user")).get("/api/admin")).body).toMatchObject({ error: "forbidden" });
  });

  test("when the user has the role, then the page is served; when signed out, then sign-in comes first", async () => {
    expect((await request(appWith("admin")).get("/admin")).text).toBe("console");
    const res = await request(appWith(null)).get("/admin");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?next=%2Fadmin");
  });
});
