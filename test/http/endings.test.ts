import { randomBytes } from "node:crypto";
import signature from "cookie-signature";
import request from "supertest";
import type { EmbeddedSessionStore } from "../../src/package/session-store/embedded-session-store";
import { handleOf } from "../../src/package/session-store/session-record";
import { OPERATOR } from "../../src/site/cli/cli";
import { setDisabled, setRole } from "../../src/site/users/account-admin";
import {
  type Agent,
  type BackendKind,
  browser,
  CHROME_WINDOWS,
  cookieOf,
  createTestApp,
  newAccount,
  SAFARI_IPHONE,
  sentSessionCookie,
  signIn,
  signUp,
  submit,
  type TestApp,
  useTestApp,
} from "../helpers/app";
import { backendKinds, scanKeys } from "../helpers/topology";

/** What a browser whose session was ended reads next: the page it asked for sends it to sign in, which says why. */
async function nextPageSays(agent: Agent): Promise<string> {
  const res = await agent.get("/dashboard");
  expect(res.status).toBe(303);
  return (await agent.get(res.headers.location)).text;
}

/** One account signed in on a laptop (Chrome on Windows, where it signed up) and a phone. */
async function twoDevices(app: TestApp["app"]) {
  const laptop = browser(app, CHROME_WINDOWS);
  const phone = browser(app, SAFARI_IPHONE);
  const account = await signUp(laptop);
  await signIn(phone, account);
  return { laptop, phone, account };
}

const handleOfAgent = async (agent: Agent) => {
  const cookie = sentSessionCookie(await agent.get("/dashboard"))!;
  return handleOf(decodeURIComponent(cookie.split("=")[1]).slice(2).split(".")[0]);
};

describe.each<BackendKind>(backendKinds())("why a session ended (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when the laptop signs the phone out, then the phone's next page says from which device, once, and the session stays ended", async () => {
    const { laptop, phone } = await twoDevices(ctx().app);
    const handle = await handleOfAgent(phone);
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {})).status).toBe(303);
    expect(await nextPageSays(phone)).toMatch(/You were signed out from Chrome on Windows on \d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC\. Not you\?/);
    // Said once; and the tombstone is no way back in.
    const again = await phone.get("/dashboard");
    expect(again.status).toBe(303);
    expect((await phone.get("/login")).text).not.toContain("You were signed out from");
  });

  test("when requests bring a junk, forged or dead session cookie, then nothing is stored for them, and an ended session is still told why", async () => {
    const { laptop, phone } = await twoDevices(ctx().app);
    const handle = await handleOfAgent(phone);
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {})).status).toBe(303);
    const stored = async () => (ctx().redis ? (await scanKeys(ctx().redis!, `${ctx().prefix}*`)).length : (ctx().deps.sessions as EmbeddedSessionStore).size);
    const before = await stored();
    const dead = `s:${signature.sign(randomBytes(24).toString("base64url"), "test-secret-test-secret-test-secret")}`;
    for (const cookie of ["junk", "s:forged.signature", encodeURIComponent(dead)]) {
      for (const path of ["/", "/login", "/dashboard", "/settings/sessions", "/signup"]) {
        const res = await request(ctx().app).get(path).set("Cookie", `sid=${cookie}`);
        expect(res.status).toBeLessThan(400);
        // The dead cookie is cleared, and no session cookie is given in its place.
        expect(cookieOf(res)).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
      }
    }
    expect(await stored()).toBe(before);
    // A visitor still reads why they were signed out, from a short signed cookie of its own.
    const expired = await request(ctx().app)
      .get("/dashboard")
      .set("Cookie", `sid=${encodeURIComponent(dead)}`);
    const message = cookieOf(expired, "flash")!.split(";")[0];
    expect((await request(ctx().app).get("/login").set("Cookie", message)).text).toContain("Your session expired, please sign in again.");
    const forgedMessage = `flash=${encodeURIComponent(`${Buffer.from(JSON.stringify({ kind: "info", text: "Call 555-0100" })).toString("base64url")}.forged`)}`;
    expect((await request(ctx().app).get("/login").set("Cookie", forgedMessage)).text).not.toContain("Call 555-0100");
    expect(await nextPageSays(phone)).toContain("You were signed out from Chrome on Windows on");
    expect(await stored()).toBeLessThanOrEqual(before);
  });

  test("when every other session is signed out, then each says so too", async () => {
    const { laptop, phone } = await twoDevices(ctx().app);
    await submit(laptop, "/settings/sessions", "/settings/sessions/revoke-others", {});
    expect(await nextPageSays(phone)).toContain("You were signed out from Chrome on Windows on");
  });

  test("when the password is changed on one device, then the others say it was a password change", async () => {
    const { laptop, phone, account } = await twoDevices(ctx().app);
    const res = await submit(laptop, "/settings/password", "/settings/password", {
      current_password: account.password,
      new_password: "a whole new passphrase",
    });
    expect(res.status).toBe(303);
    expect(await nextPageSays(phone)).toContain("because the password of the account was changed");
  });

  test("when an administrator ends a session or disables the account, then it says who or why", async () => {
    const admin = newAccount("Admin Ada");
    await signUp(browser(ctx().app), admin);
    await setRole(ctx().deps.users, ctx().deps.kit, admin.email, "admin", OPERATOR);
    const adminBrowser = browser(ctx().app);
    await signIn(adminBrowser, admin);
    const page = await adminBrowser.get("/admin/users");
    expect(page.status).toBe(200);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    const account = await signUp(phone);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    const handle = await handleOfAgent(phone);
    const res = await submit(adminBrowser, `/admin/users/${user.id}`, `/admin/users/${user.id}/sessions/${handle}/revoke`, {});
    expect(res.status).toBe(303);
    expect(await nextPageSays(phone)).toContain("An administrator signed you out on");

    await signIn(phone, account);
    await setDisabled(ctx().deps.users, ctx().deps.kit, account.email, true, OPERATOR);
    expect(await nextPageSays(phone)).toContain("this account has been disabled");
  });

  test("when an operator changes the role of a signed-in person, then their session moves to a new id and no page says it ended", async () => {
    const laptop = browser(ctx().app);
    const account = await signUp(laptop);
    const before = await handleOfAgent(laptop);
    await setRole(ctx().deps.users, ctx().deps.kit, account.email, "admin", OPERATOR);
    const next = await laptop.get("/dashboard");
    expect(next.status).toBe(200);
    expect(next.text).not.toMatch(/signed out|session has ended/i);
    expect(cookieOf(next, "flash")).toBeUndefined();
    expect(await handleOfAgent(laptop)).not.toBe(before);
    expect((await laptop.get("/admin/users")).status).toBe(200);
    const later = await laptop.get("/settings/sessions");
    expect(later.status).toBe(200);
    expect(later.text).not.toMatch(/signed out|session has ended/i);
  });

  test("when the account is deleted on one device, then the other says so", async () => {
    const { laptop, phone, account } = await twoDevices(ctx().app);
    expect((await submit(laptop, "/settings/profile", "/settings/delete-account", { password: account.password })).status).toBe(303);
    const res = await phone.get("/dashboard");
    expect(res.status).toBe(303);
    expect((await phone.get(res.headers.location)).text).toContain("the account was deleted");
  });
});

describe.each<BackendKind>(backendKinds())("the per-account cap, said (%s)", (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { env: { SESSION_MAX_PER_USER: "2" } });
  });
  afterAll(() => t.close());

  test("when a third device signs in past a cap of 2, then the least recently used one says why it was signed out", async () => {
    const first = browser(t.app, SAFARI_IPHONE);
    const account = await signUp(first);
    const second = browser(t.app);
    await signIn(second, account);
    await second.get("/dashboard");
    await signIn(browser(t.app), account);
    expect(await nextPageSays(first)).toContain("signed in on more than 2 devices, and this one had been used least recently");
    expect((await second.get("/dashboard")).status).toBe(200);
  });
});
