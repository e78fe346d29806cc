import type { BrowserContext, Page } from "playwright-core";
import { CHROME_WINDOWS, SAFARI_IPHONE } from "../helpers/app";
import { browserHarness, describeInBrowser, type PageAudit, signUpInBrowser } from "../helpers/chromium";
import { startSmtp, type TestSmtp } from "../helpers/smtp";

/**
 * A sign-in alert, end to end: a real SMTP server receives it, and its owner follows the
 * link in Chromium with JavaScript off, ends the other session and sets a new password.
 */
describeInBrowser("a sign-in alert followed in Chromium without JavaScript", () => {
  let smtp: TestSmtp;
  let harness: Awaited<ReturnType<typeof browserHarness>>;
  let base: string;
  let audit: PageAudit;
  const contexts: BrowserContext[] = [];
  const account = { name: "Ada Lovelace", email: `ada-alert-${Date.now()}@example.com`, password: "correct horse battery" };

  beforeAll(async () => {
    smtp = await startSmtp();
    harness = await browserHarness({ SMTP_URL: smtp.url, PUBLIC_URL: "https://sessions.example.test" });
    ({ base, audit } = harness);
  });

  // Every page the devices were shown (the "This wasn't me" steps among them): axe-core finds nothing, and each has one h1.
  afterEach(() => audit.expectNoViolations());

  afterAll(async () => {
    await harness?.close();
    await smtp?.stop();
  });

  async function device(userAgent: string): Promise<Page> {
    const context = await audit.newContext({ javaScriptEnabled: false, userAgent });
    contexts.push(context);
    return context.newPage();
  }

  test("when someone else signs in, then the owner's mail link ends that session and a new password ends every session", async () => {
    const laptop = await device(CHROME_WINDOWS);
    await signUpInBrowser(laptop, base, harness.t, account);
    // The laptop's own sign-in alert (its first sign-in, at the end of the sign-up) has arrived.
    await smtp.nextAbout(account.email, /^New sign-in/);
    const since = smtp.received.length;

    const phone = await device(SAFARI_IPHONE);
    await phone.goto(`${base}/login`);
    await phone.getByLabel("Email").fill(account.email);
    await phone.getByLabel("Password").fill(account.password);
    await phone.getByRole("button", { name: "Sign in" }).click();
    expect(new URL(phone.url()).pathname).toBe("/dashboard");

    // The owner reads the alert in a mail client and follows its link (to this test's server).
    const alert = await smtp.nextTo(account.email, since);
    const mailClient = await device(CHROME_WINDOWS);
    await mailClient.setContent(alert.html || "");
    const href = await mailClient.getByRole("link", { name: /end that session/ }).getAttribute("href");
    const link = new URL(href!);
    expect(link.origin).toBe("https://sessions.example.test");
    await mailClient.goto(`${base}${link.pathname}${link.search}`);
    expect(await mailClient.getByText("Safari on iOS").count()).toBeGreaterThan(0);

    await mailClient.getByRole("button", { name: "It was not me: end that session" }).click();
    await phone.goto(`${base}/dashboard`);
    expect(new URL(phone.url()).pathname).toBe("/login");
    expect(await phone.getByRole("status").textContent()).toContain("from an email alert");

    await mailClient.getByLabel("New password").fill("a brand new passphrase");
    await mailClient.getByRole("button", { name: "Set the new password" }).click();
    expect(await mailClient.getByText("every session of your account has ended").count()).toBe(1);
    await laptop.goto(`${base}/dashboard`);
    expect(new URL(laptop.url()).pathname).toBe("/login");
    expect(await laptop.getByRole("status").textContent()).toContain("password of the account was changed");
  });
});
