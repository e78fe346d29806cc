import request from "supertest";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import {
  type Agent,
  type BackendKind,
  browser,
  cookieOf,
  createTestApp,
  csrfFrom,
  newAccount,
  SAFARI_IPHONE,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  type TestApp,
  useTestApp,
} from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

async function makeAdmin(t: TestApp): Promise<{ admin: Agent; account: ReturnType<typeof newAccount> }> {
  const account = newAccount("Admin Ada");
  await signUp(browser(t.app), account);
  await setRole(t.deps.users, t.deps.kit, account.email, "admin", OPERATOR);
  const admin = browser(t.app);
  await signIn(admin, account);
  return { admin, account };
}

describe.each<BackendKind>(backendKinds())("admin console (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when a non-admin asks for any /admin page or action, then it answers 403 and changes nothing", async () => {
    const target = newAccount("Target");
    const targetAgent = browser(ctx().app);
    await signUp(targetAgent, target);
    const id = (await ctx().deps.users.findByEmail(target.email))!.id;
    const user = browser(ctx().app);
    await signUp(user);
    const token = csrfFrom((await user.get("/dashboard")).text);
    for (const path of ["/admin", "/admin/users", `/admin/users/${id}`, "/admin/audit"]) {
      const res = await user.get(path);
      expect(res.status).toBe(403);
      expect(res.text).toContain("Not allowed");
    }
    for (const path of [
      `/admin/users/${id}/sessions/revoke-all`,
      `/admin/users/${id}/role`,
      `/admin/users/${id}/disable`,
      `/admin/users/${id}/enable`,
      `/admin/users/${id}/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke`,
    ]) {
      const res = await user.post(path).type("form").send({ _csrf: token, role: "admin" });
      expect(res.status).toBe(403);
    }
    expect((await targetAgent.get("/dashboard")).status).toBe(200);
    expect((await ctx().deps.users.findById(id))!.role).toBe("user");
    expect((await request(ctx().app).get("/admin/users")).status).toBe(303);
  });

  test("when an admin finds a user by email prefix, then the user's page shows account, sessions and activity", async () => {
    const { admin } = await makeAdmin(ctx());
    const target = newAccount("Grace Target");
    await signUp(browser(ctx().app, SAFARI_IPHONE), target);
    const prefix = target.email.slice(0, 12);
    const found = await admin.get(`/admin/users?q=${encodeURIComponent(prefix.toUpperCase())}`);
    expect(found.status).toBe(200);
    expect(found.text).toContain(target.email);
    const id = (await ctx().deps.users.findByEmail(target.email))!.id;
    const page = await admin.get(`/admin/users/${id}`);
    expect(page.text).toContain("Grace Target");
    expect(page.text).toContain("Mobile Safari on iOS");
    expect(page.text).toContain("Signed in");
    expect((await admin.get("/admin/users/no-such-user")).status).toBe(404);
  });

  test("when an admin disables an account, then its sessions end at once, it cannot sign in, and both logs say so", async () => {
    const { admin, account: adminAccount } = await makeAdmin(ctx());
    const target = newAccount("Mallory");
    const device = browser(ctx().app);
    await signUp(device, target);
    const id = (await ctx().deps.users.findByEmail(target.email))!.id;
    const res = await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/disable`, {});
    expect(res.status).toBe(303);
    expect((await device.get("/dashboard")).status).toBe(303);
    const again = await signIn(browser(ctx().app), target);
    expect(again.status).toBe(403);
    expect(again.text).toContain("This account has been disabled.");
    expect((await admin.get(`/admin/users/${id}`)).text).toContain("Account disabled by an administrator");
    const audit = await admin.get("/admin/audit");
    expect(audit.text).toContain("Disable account");
    expect(audit.text).toContain(adminAccount.email);
    expect(audit.text).toContain(target.email);
    await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/enable`, {});
    expect((await signIn(browser(ctx().app), target)).status).toBe(303);
  });

  test("when an admin ends one session of a user, then that device is signed out and the user's activity says by whom", async () => {
    const { admin } = await makeAdmin(ctx());
    const target = newAccount("Target Two");
    const laptop = browser(ctx().app);
    await signUp(laptop, target);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    await signIn(phone, target);
    const id = (await ctx().deps.users.findByEmail(target.email))!.id;
    const page = await admin.get(`/admin/users/${id}`);
    const phoneHandle = /Mobile Safari on iOS[\s\S]*?\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
    const res = await admin
      .post(`/admin/users/${id}/sessions/${phoneHandle}/revoke`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text) });
    expect(res.status).toBe(303);
    // The console names the session as its row did, never by its handle.
    const after = (await admin.get(`/admin/users/${id}`)).text;
    expect(after).toContain("Done: signed out Mobile Safari on iOS, ");
    expect(after).not.toContain(phoneHandle);
    expect((await admin.get("/admin/audit")).text).not.toContain(phoneHandle);
    expect((await phone.get("/dashboard")).status).toBe(303);
    expect((await laptop.get("/dashboard")).status).toBe(200);
    expect((await laptop.get("/settings/activity")).text).toContain("Session on <bdi>Mobile Safari on iOS</bdi> signed out by an administrator");
    const roleRes = await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/role`, { role: "admin" });
    expect(roleRes.status).toBe(303);
    expect((await laptop.get("/dashboard")).text).toContain("Administrator");
  });

  test("when an admin changes a user's role, then each of the user's sessions gets a new id on its next request, keeping its sign-in time", async () => {
    const { admin } = await makeAdmin(ctx());
    const target = newAccount("Promoted Pat");
    const laptop = browser(ctx().app);
    await signUp(laptop, target);
    const id = (await ctx().deps.users.findByEmail(target.email))!.id;
    const [before] = await ctx().deps.sessions.listUserSessions(id);
    const page = await laptop.get("/settings/profile");
    const oldCookie = sentSessionCookie(page)!;
    expect((await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/role`, { role: "admin" })).status).toBe(303);

    const next = await laptop.get("/dashboard");
    expect(next.status).toBe(200);
    expect(next.text).toContain("Administrator");
    const newCookie = cookieOf(next)?.split(";")[0];
    expect(newCookie).toMatch(/^sid=/);
    expect(newCookie).not.toBe(oldCookie);
    expect((await request(ctx().app).get("/dashboard").set("Cookie", oldCookie)).status).toBe(303);
    // The form the page showed before the change still goes through.
    expect(
      (
        await laptop
          .post("/settings/profile")
          .type("form")
          .send({ _csrf: csrfFrom(page.text), name: "Pat Promoted" })
      ).status,
    ).toBe(303);
    const [after] = await ctx().deps.sessions.listUserSessions(id);
    expect(after.handle).not.toBe(before.handle);
    expect(after.createdAt).toBe(before.createdAt);
    expect((await laptop.get("/admin/users")).status).toBe(200);
    // One renewal per change, not one per request.
    expect(cookieOf(await laptop.get("/dashboard"))).toBeUndefined();
  });
});

describe.each<BackendKind>(backendKinds())("the last administrator (%s)", (kind) => {
  test("when the only administrator would demote or disable themself or delete their account, then it is refused and nothing changes", async () => {
    const t = await createTestApp(kind);
    try {
      const { admin, account } = await makeAdmin(t);
      const id = (await t.deps.users.findByEmail(account.email))!.id;
      const demote = await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/role`, { role: "user" });
      expect(demote.status).toBe(409);
      expect(demote.text).toContain("is the only administrator. Make another account an administrator first.");
      const disable = await submit(admin, `/admin/users/${id}`, `/admin/users/${id}/disable`, {});
      expect(disable.status).toBe(400);
      expect(disable.text).toContain("You cannot disable your own account.");
      const remove = await submit(admin, "/settings/profile", "/settings/delete-account", { password: account.password });
      expect(remove.status).toBe(409);
      expect(remove.text).toContain("You are the only administrator.");
      const after = (await t.deps.users.findById(id))!;
      expect(after).toMatchObject({ role: "admin", disabled: false });
      expect((await admin.get("/admin/users")).status).toBe(200);
      expect((await admin.get("/admin/audit")).text).not.toContain("change role");
    } finally {
      await t.close();
    }
  });

  test("when another administrator exists, then one can step down, and the last one left is kept", async () => {
    const t = await createTestApp(kind);
    try {
      const first = await makeAdmin(t);
      const second = await makeAdmin(t);
      const firstId = (await t.deps.users.findByEmail(first.account.email))!.id;
      const secondId = (await t.deps.users.findByEmail(second.account.email))!.id;
      expect((await submit(first.admin, `/admin/users/${firstId}`, `/admin/users/${firstId}/role`, { role: "user" })).status).toBe(303);
      expect((await t.deps.users.findById(firstId))!.role).toBe("user");
      const last = await submit(second.admin, `/admin/users/${secondId}`, `/admin/users/${secondId}/role`, { role: "user" });
      expect(last.status).toBe(409);
      // A disabled administrator does not count as one.
      await submit(second.admin, `/admin/users/${firstId}`, `/admin/users/${firstId}/role`, { role: "admin" });
      await submit(second.admin, `/admin/users/${firstId}`, `/admin/users/${firstId}/disable`, {});
      expect((await t.deps.users.findById(firstId))!).toMatchObject({ role: "admin", disabled: true });
      expect((await submit(second.admin, `/admin/users/${secondId}`, `/admin/users/${secondId}/role`, { role: "user" })).status).toBe(409);
      expect(await t.deps.users.activeAdmins()).toEqual([secondId]);
    } finally {
      await t.close();
    }
  });
});

test("when the Redis index of administrators is missing, then it is rebuilt from the accounts", async () => {
  const t = await createTestApp("redis");
  try {
    const { account } = await makeAdmin(t);
    const id = (await t.deps.users.findByEmail(account.email))!.id;
    await t.redis!.del(`${t.prefix}user:admins`);
    expect(await t.deps.users.activeAdmins()).toEqual([id]);
    expect(await t.redis!.sMembers(`${t.prefix}user:admins`)).toEqual([id]);
  } finally {
    await t.close();
  }
});

describe("admin re-authentication", () => {
  test("when the admin's password is older than the window, then an admin action needs it in the same form", async () => {
    const clock = testClock();
    const t = await createTestApp("redis", { env: { SESSION_REAUTH_WINDOW: "1" }, clock });
    try {
      const { admin, account } = await makeAdmin(t);
      const target = newAccount("Late Target");
      const device = browser(t.app);
      await signUp(device, target);
      const id = (await t.deps.users.findByEmail(target.email))!.id;
      clock.advance(1100);
      const page = await admin.get(`/admin/users/${id}`);
      expect(page.text).toContain('name="password" type="password"');
      const without = await admin
        .post(`/admin/users/${id}/sessions/revoke-all`)
        .type("form")
        .send({ _csrf: csrfFrom(page.text) });
      expect(without.status).toBe(422);
      expect((await device.get("/dashboard")).status).toBe(200);
      const withPassword = await admin
        .post(`/admin/users/${id}/sessions/revoke-all`)
        .type("form")
        .send({ _csrf: csrfFrom(page.text), password: account.password });
      expect(withPassword.status).toBe(303);
      expect((await device.get("/dashboard")).status).toBe(303);
    } finally {
      await t.close();
    }
  });
});
