import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import { browser, cookieOf, createTestApp, listen, newAccount, SAFARI_IPHONE, signIn, signUp, submit, type TestApp } from "../helpers/app";
import { Lynx, requireLynx } from "../helpers/lynx";
import { freePort } from "../helpers/redis-server";
import { testClock } from "../helpers/stores";
import { requireW3m, W3m } from "../helpers/w3m";

/**
 * Pages as lynx lays them out at 80 and 100 columns, signed in with a cookie the test hands
 * it: each record on lines of its own, and every time in words a person can read without a
 * pointer (the exact one beside "3 hours ago", never only in a hover title). Then w3m (its
 * defaults, forms sent with -post): an error at its field, and what the page after sign-out says.
 */

const OUTPUT = path.join(__dirname, "..", "..", "test-output", "lynx");

describe("pages in lynx at 80 and 100 columns, and in w3m", () => {
  const clock = testClock();
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  const target = newAccount("Target Tess");
  const admin = newAccount("Admin Ada");
  let adminCookie: string;
  let targetCookie: string;

  beforeAll(async () => {
    requireLynx();
    requireW3m();
    mkdirSync(OUTPUT, { recursive: true });
    const port = await freePort();
    t = await createTestApp("embedded", { clock, env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
    server = await listen(t.app, port);
    const laptop = browser(t.app);
    await signUp(laptop, target);
    await signIn(browser(t.app, SAFARI_IPHONE), target);
    await signUp(browser(t.app), admin);
    await setRole(t.deps.users, t.deps.kit, admin.email, "admin", OPERATOR);
    const agent = browser(t.app);
    adminCookie = cookieOf(await signIn(agent, admin))!;
    targetCookie = cookieOf(await signIn(browser(t.app), target))!;
    // One entry in the audit log: every session of the target ended by the administrator.
    const id = (await t.deps.users.findByEmail(target.email))!.id;
    expect((await submit(agent, `/admin/users/${id}`, `/admin/users/${id}/sessions/revoke-all`, {})).status).toBe(303);
    targetCookie = cookieOf(await signIn(browser(t.app), target))!;
    await signIn(browser(t.app, SAFARI_IPHONE), target);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /** What lynx shows at this path, `width` columns wide, with this session cookie. */
  async function read(width: number, pagePath: string, cookie: string): Promise<string> {
    const lynx = new Lynx(width);
    try {
      lynx.useCookie(server.base, cookie);
      const page = await lynx.dump(`${server.base}${pagePath}`);
      writeFileSync(path.join(OUTPUT, `${pagePath.replace(/\W+/g, "-").slice(1)}-${width}.txt`), page);
      return page;
    } finally {
      lynx.close();
    }
  }

  test.each([80, 100])("when the audit log is read at %i columns, then each entry's parts stand on lines of their own, with the exact time", async (width) => {
    const page = await read(width, "/admin/audit", adminCookie);
    const line = (text: RegExp) => page.split("\n").find((l) => text.test(l)) ?? "";
    // The administrator, the action and the account are not one run-on line.
    expect(line(/sign out every session/i)).toContain(target.email);
    expect(line(/sign out every session/i)).not.toContain(admin.email);
    expect(line(new RegExp(admin.email))).not.toContain(target.email);
    expect(page).toMatch(/\d{1,2} [A-Z][a-z]{2} \d{4},\s+\d{2}:\d{2} UTC/);
    expect(page).toMatch(/less than a minute ago|minutes? ago/);
    for (const l of page.split("\n")) expect(l.length).toBeLessThanOrEqual(width);
  });

  test("when the activity page is read, then each entry gives its exact time in words beside the relative one", async () => {
    const page = await read(80, "/settings/activity", targetCookie);
    expect(page).toMatch(/Signed in from[\s\S]*?\d{1,2} [A-Z][a-z]{2} \d{4},\s+\d{2}:\d{2} UTC/);
  });

  /** A form of a page in w3m: its token from the page's source, then the post. */
  async function sendIn(w3m: W3m, pagePath: string, action: string, fields: Record<string, string>): Promise<string> {
    const html = await w3m.source(`${server.base}${pagePath}`);
    const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    return w3m.post(`${server.base}${action.replace("HANDLE", /\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(html)?.[1] ?? "")}`, { _csrf: token, ...fields });
  }

  test("when a wrong password is sent to sign a device out in w3m, then the message stands under that row's field, not above the list", async () => {
    // Past the re-authentication window: each row's form asks for the password.
    clock.advance(20 * 60 * 1000);
    const w3m = new W3m(targetCookie.split(";")[0]!);
    try {
      const page = await sendIn(w3m, "/settings/sessions", "/settings/sessions/HANDLE/revoke", { password: "not-the-password" });
      writeFileSync(path.join(OUTPUT, "w3m-sessions-wrong-password.txt"), page);
      const row = page.indexOf("Mobile Safari on iOS · Mobile");
      const field = page.indexOf("Your password [", row);
      const message = page.indexOf("That password is not correct.");
      expect(row).toBeGreaterThan(page.indexOf("This device"));
      expect(field).toBeGreaterThan(row);
      expect(message).toBeGreaterThan(field);
      expect(message).toBeLessThan(page.indexOf("Sign out all other sessions"));
    } finally {
      w3m.close();
    }
  });

  test("when w3m signs out, then it lands on the sign-in page at once, which says to quit the browser on a shared computer", async () => {
    const w3m = new W3m(targetCookie.split(";")[0]!);
    try {
      const page = await sendIn(w3m, "/dashboard", "/logout", {});
      writeFileSync(path.join(OUTPUT, "w3m-signed-out.txt"), page);
      expect(page).toContain("You are signed out. On a shared or public computer, quit the browser now");
      expect(page).not.toContain("Signed in as");
      expect(page).toMatch(/Sign in/);
    } finally {
      w3m.close();
    }
  });
});
