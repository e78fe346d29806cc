import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import { browser, cookieOf, createTestApp, listen, newAccount, SAFARI_IPHONE, signIn, signUp, submit, type TestApp } from "../helpers/app";
import { Lynx, requireLynx } from "../helpers/lynx";
import { freePort } from "../helpers/redis-server";

/**
 * Pages as lynx lays them out at 80 and 100 columns, signed in with a cookie the test hands
 * it: each record on lines of its own, and every time in words a person can read without a
 * pointer (the exact one beside "3 hours ago", never only in a hover title).
 */

const OUTPUT = path.join(__dirname, "..", "..", "test-output", "lynx");

describe("pages in lynx at 80 and 100 columns", () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  const target = newAccount("Target Tess");
  const admin = newAccount("Admin Ada");
  let adminCookie: string;
  let targetCookie: string;

  beforeAll(async () => {
    requireLynx();
    mkdirSync(OUTPUT, { recursive: true });
    const port = await freePort();
    t = await createTestApp("embedded", { env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
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
});
