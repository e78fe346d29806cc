import { mkdirSync } from "node:fs";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { CHROME_WINDOWS, SAFARI_IPHONE } from "../helpers/app";
import { browserHarness, describeInBrowser, type PageAudit } from "../helpers/chromium";

/**
 * Two devices in a real Chromium with JavaScript off, clicking real buttons against the
 * real server (createApp on a free port) and a real Redis.
 */

const SCREENSHOTS = path.join(__dirname, "..", "..", "test-output", "screenshots");

describeInBrowser("two devices in Chromium without JavaScript", () => {
  let harness: Awaited<ReturnType<typeof browserHarness>>;
  let base: string;
  let audit: PageAudit;
  let laptopContext: BrowserContext;
  let phoneContext: BrowserContext;
  let laptop: Page;
  let phone: Page;
  const account = { name: "Ada Lovelace", email: `ada-${Date.now()}@example.com`, password: "correct horse battery" };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await browserHarness();
    ({ base, audit } = harness);
    laptopContext = await audit.newContext({ javaScriptEnabled: false, userAgent: CHROME_WINDOWS, viewport: { width: 1280, height: 800 } });
    phoneContext = await audit.newContext({
      javaScriptEnabled: false,
      userAgent: SAFARI_IPHONE,
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    laptop = await laptopContext.newPage();
    phone = await phoneContext.newPage();
  });

  // Every page either device was shown in the test: axe-core finds nothing, and each has one h1.
  afterEach(() => audit.expectNoViolations());

  afterAll(async () => {
    await harness?.close();
  });

  const sessionRow = (page: Page, device: string) => page.locator("li.session", { hasText: device });

  async function signInOn(page: Page, password = account.password) {
    await page.goto(`${base}/login`);
    await page.getByLabel("Email").fill(account.email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  test("when a person signs up on the laptop and follows the mail's link, then it asks for their password again, and the dashboard greets them by name", async () => {
    await laptop.goto(base);
    await laptop.getByRole("link", { name: "Create an account" }).click();
    await laptop.getByLabel("Name").fill(account.name);
    await laptop.getByLabel("Email").fill(account.email);
    await laptop.getByLabel("Password").fill(account.password);
    await laptop.getByRole("button", { name: "Create account" }).click();
    expect(new URL(laptop.url()).pathname).toBe("/signup/sent");
    await expect(laptop.locator("h1").textContent()).resolves.toBe("Check your mail");
    // The mail, written to the log without SMTP_URL, carries the link that finishes the account.
    const mail = harness.t.mails.find((m) => m.to === account.email && m.subject === "Finish creating your account")!;
    const link = /\/signup\/confirm\?t=[A-Za-z0-9_.-]+/.exec(mail.text)![0];
    await laptop.goto(`${base}${link}`);
    const field = laptop.getByLabel("Enter the password you chose when you signed up");
    // A mistyped password: the same page, the message at the field, and the link still good.
    await field.fill("not the password I chose");
    const refused = laptop.waitForResponse((res) => res.request().method() === "POST");
    await laptop.getByRole("button", { name: "Finish creating my account" }).click();
    expect((await refused).status()).toBe(422);
    await expect(laptop.locator("#password-error").textContent()).resolves.toBe("That is not the password this account was last signed up with.");
    await expect(field.getAttribute("aria-invalid")).resolves.toBe("true");
    await field.fill(account.password);
    await laptop.getByRole("button", { name: "Finish creating my account" }).click();
    expect(new URL(laptop.url()).pathname).toBe("/dashboard");
    await expect(laptop.locator("main").textContent()).resolves.toContain(`Signed in as ${account.name}`);
  });

  test("when they sign in on the phone, then both devices list both sessions, each marking itself", async () => {
    await signInOn(phone);
    expect(new URL(phone.url()).pathname).toBe("/dashboard");

    for (const [page, self, other] of [
      [laptop, "Chrome on Windows", "Mobile Safari on iOS"],
      [phone, "Mobile Safari on iOS", "Chrome on Windows"],
    ] as const) {
      await page.goto(`${base}/settings/sessions`);
      await expect(sessionRow(page, self).textContent()).resolves.toContain("This device");
      await expect(sessionRow(page, other).textContent()).resolves.not.toContain("This device");
      expect(
        await sessionRow(page, self)
          .getByRole("button", { name: /^Sign out .+/ })
          .count(),
      ).toBe(0);
      expect(
        await sessionRow(page, other)
          .getByRole("button", { name: /^Sign out .+/ })
          .count(),
      ).toBe(1);
    }
    await expect(sessionRow(laptop, "Chrome on Windows").textContent()).resolves.toContain("Desktop");
    await expect(sessionRow(laptop, "Mobile Safari on iOS").textContent()).resolves.toContain("Mobile");
    await laptop.screenshot({ path: path.join(SCREENSHOTS, "journey-sessions-laptop.png"), fullPage: true });
    await phone.screenshot({ path: path.join(SCREENSHOTS, "journey-sessions-phone.png"), fullPage: true });
  });

  test("when the laptop ends the phone's session, then the phone lands on the sign-in page at its next navigation", async () => {
    await sessionRow(laptop, "Mobile Safari on iOS")
      .getByRole("button", { name: /^Sign out .+/ })
      .click();
    await expect(laptop.locator(".flash").textContent()).resolves.toContain("Signed out that session.");
    expect(await sessionRow(laptop, "Mobile Safari on iOS").count()).toBe(0);

    await phone.goto(`${base}/dashboard`);
    expect(new URL(phone.url()).pathname).toBe("/login");
    await expect(phone.locator(".flash").textContent()).resolves.toContain("You were signed out from Chrome on Windows on");
  });

  test("when the laptop renames the account, then the phone shows the new name", async () => {
    await signInOn(phone);
    await laptop.goto(`${base}/settings/profile`);
    await laptop.getByLabel("Name").fill("Countess of Lovelace");
    await laptop.getByRole("button", { name: "Save" }).click();
    await expect(laptop.locator(".flash").textContent()).resolves.toContain("Your name was saved.");
    await phone.goto(`${base}/dashboard`);
    await expect(phone.locator("main").textContent()).resolves.toContain("Signed in as Countess of Lovelace");
  });

  test("when the laptop changes the password, then the phone is signed out and the laptop stays in", async () => {
    await laptop.goto(`${base}/settings/password`);
    await laptop.getByLabel("Current password").fill(account.password);
    await laptop.getByLabel("New password").fill("a brand new passphrase");
    await laptop.getByRole("button", { name: "Change password" }).click();
    await expect(laptop.locator(".flash").textContent()).resolves.toContain("Every other session was signed out.");
    await phone.goto(`${base}/settings/sessions`);
    expect(new URL(phone.url()).pathname).toBe("/login");
    await laptop.goto(`${base}/settings/sessions`);
    expect(await laptop.locator("li.session").count()).toBe(1);
    account.password = "a brand new passphrase";
  });

  test("when the laptop signs out, then it is on the sign-in page and the back button shows nothing private", async () => {
    await laptop.goto(`${base}/dashboard`);
    const signedIn = (await laptopContext.cookies()).find((c) => c.name === "sid")!.value;
    await laptop.getByRole("button", { name: "Sign out" }).click();
    expect(new URL(laptop.url()).pathname).toBe("/login");
    // The sign-in form may hand out a visitor's cookie, never the signed-in one again.
    expect((await laptopContext.cookies()).map((c) => c.value)).not.toContain(signedIn);
    await laptop.waitForLoadState("load");
    // Chromium may swap the page's renderer after the POST and 303 ("Not attached to an active
    // page" for a moment); the back button is pressed again then, as a person would.
    await laptop.goBack().catch(async (err: Error) => {
      if (!/Not attached to an active page/.test(err.message)) throw err;
      await laptop.waitForTimeout(200);
      await laptop.goBack();
    });
    expect(new URL(laptop.url()).pathname).toBe("/login");
    await expect(laptop.locator("body").textContent()).resolves.not.toContain("Signed in as");
  });

  test("when someone uses only the keyboard, then they can sign in", async () => {
    const page = await laptopContext.newPage();
    await page.goto(`${base}/login`);
    await page.keyboard.press("Tab");
    await expect(page.evaluate("document.activeElement.textContent")).resolves.toContain("Skip to content");
    await page.getByLabel("Email").focus();
    await page.keyboard.type(account.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(account.password);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/dashboard`);
    await page.close();
  });
});
