import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { CHROME_WINDOWS, SAFARI_IPHONE } from "../helpers/app";
import { browserHarness, describeInBrowser, type PageAudit, signUpInBrowser } from "../helpers/chromium";

const SCREENSHOTS = path.join(__dirname, "..", "..", "test-output", "screenshots");
const TABLET = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

/** SESSION_LIMIT_POLICY=ask at a cap of 2, with three devices and JavaScript off. */
describeInBrowser("choosing a session to end at the cap, in Chromium", () => {
  let harness: Awaited<ReturnType<typeof browserHarness>>;
  let base: string;
  let audit: PageAudit;
  const account = { name: "Ada Lovelace", email: `ask-${Date.now()}@example.com`, password: "correct horse battery" };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await browserHarness({ SESSION_MAX_PER_USER: "2", SESSION_LIMIT_POLICY: "ask" });
    ({ base, audit } = harness);
  });
  // Every page the devices were shown in the test: axe-core finds nothing, and each has one h1.
  afterEach(() => audit.expectNoViolations());
  afterAll(() => harness?.close());

  async function device(userAgent: string, width = 1280): Promise<Page> {
    const context = await audit.newContext({ javaScriptEnabled: false, userAgent, viewport: { width, height: 800 } });
    return context.newPage();
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${base}/login`);
    await page.getByLabel("Email").fill(account.email);
    await page.getByLabel("Password").fill(account.password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  test("when a third device signs in, then it picks the session to end on a plain form, and the ended device is told why", async () => {
    const laptop = await device(CHROME_WINDOWS);
    await signUpInBrowser(laptop, base, harness.t, account);
    const phone = await device(SAFARI_IPHONE, 375);
    await signIn(phone);
    expect(new URL(phone.url()).pathname).toBe("/dashboard");

    const third = await device(TABLET, 320);
    await signIn(third);
    expect(new URL(third.url()).pathname).toBe("/settings/sessions/choose");
    await third.screenshot({ path: path.join(SCREENSHOTS, "choose-phone.png"), fullPage: true });
    expect(await third.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(320);
    await third.getByLabel(/Mobile Safari on iOS/).check();
    await third.getByRole("button", { name: "Sign out the chosen sessions and sign in here" }).click();
    expect(new URL(third.url()).pathname).toBe("/dashboard");

    await phone.goto(`${base}/dashboard`);
    expect(new URL(phone.url()).pathname).toBe("/login");
    expect(await phone.locator(".flash").textContent()).toContain("You were signed out from Firefox on Linux");
    await laptop.goto(`${base}/dashboard`);
    expect(new URL(laptop.url()).pathname).toBe("/dashboard");
  });

  test("when the choice page is checked with axe-core, then it has no violation", async () => {
    const other = { ...account, email: `ask-axe-${Date.now()}@example.com` };
    for (const ua of [CHROME_WINDOWS, SAFARI_IPHONE]) {
      const page = await device(ua);
      if (ua === CHROME_WINDOWS) {
        await signUpInBrowser(page, base, harness.t, other);
      } else {
        await page.goto(`${base}/login`);
        await page.getByLabel("Email").fill(other.email);
        await page.getByLabel("Password").fill(other.password);
        await page.getByRole("button", { name: "Sign in" }).click();
      }
    }
    // The choice page at a desktop width, audited (afterEach) as every page here is.
    const page = await device(CHROME_WINDOWS);
    await page.goto(`${base}/login`);
    await page.getByLabel("Email").fill(other.email);
    await page.getByLabel("Password").fill(other.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    expect(new URL(page.url()).pathname).toBe("/settings/sessions/choose");
  });
});
