import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BrowserContextOptions, Page } from "playwright-core";
import { OPERATOR } from "../../src/site/cli/cli";
import { setRole } from "../../src/site/users/account-admin";
import { CHROME_WINDOWS, newAccount, SAFARI_IPHONE, type TestApp } from "../helpers/app";
import { browserHarness, describeInBrowser, openSignUpLink, type PageAudit, signUpInBrowser } from "../helpers/chromium";

/**
 * Every page at a desktop and a phone width: screenshots, layout from 320 px up, and axe-core
 * over every page state shown (the harness's PageAudit: a separate context that runs axe, as
 * the product has no JavaScript), each in light and in dark colours, failing on any violation.
 * UPDATE_DOCS=1 also refreshes the screenshots committed under docs/.
 */

const ROOT = path.join(__dirname, "..", "..");
const SCREENSHOTS = path.join(ROOT, "test-output", "screenshots");

interface PageCase {
  name: string;
  path: string;
  signedIn: boolean;
  /** Brings the page into the state worth looking at (a failed form, say). */
  prepare?: (page: Page, base: string, t: TestApp) => Promise<void>;
}

const PAGES: PageCase[] = [
  { name: "landing", path: "/", signedIn: false },
  { name: "signup", path: "/signup", signedIn: false },
  {
    name: "signup-errors",
    path: "/signup",
    signedIn: false,
    prepare: async (page) => {
      await page.getByLabel("Email").fill("not-an-email");
      await page.getByLabel("Password").fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
    },
  },
  { name: "signup-sent", path: "/signup/sent", signedIn: false },
  {
    name: "signup-confirm",
    path: "/signup",
    signedIn: false,
    // The mail's link: the page that asks for the password chosen at sign-up.
    prepare: async (page, base, t) => openSignUpLink(page, base, t, newAccount()),
  },
  {
    name: "signup-confirm-errors",
    path: "/signup",
    signedIn: false,
    prepare: async (page, base, t) => {
      await openSignUpLink(page, base, t, newAccount());
      await page.getByLabel("Enter the password you chose when you signed up").fill("not the password I chose");
      await page.getByRole("button", { name: "Finish creating my account" }).click();
      expect(await page.locator("#password-error").textContent()).toBe("That is not the password this account was last signed up with.");
    },
  },
  { name: "login", path: "/login", signedIn: false },
  {
    name: "login-errors",
    path: "/login",
    signedIn: false,
    prepare: async (page) => {
      await page.getByLabel("Email").fill("nobody@example.com");
      await page.getByLabel("Password").fill("wrong password");
      await page.getByRole("button", { name: "Sign in" }).click();
    },
  },
  {
    name: "login-signed-out",
    path: "/signup",
    signedIn: false,
    // Signed in, then signed out from another device: the sign-in page says so.
    prepare: async (page, base, t) => {
      const email = `gone-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
      await signUpInBrowser(page, base, t, { name: "Ada Lovelace", email, password: "correct horse battery" });
      const user = (await t.deps.users.findByEmail(email))!;
      await t.deps.sessions.endUserSessions(user.id, undefined, { reason: "other-device", at: Date.now(), device: "Chrome on Windows" });
      await page.goto(`${base}/dashboard`);
      expect(await page.locator(".flash").textContent()).toContain("You were signed out from Chrome on Windows");
    },
  },
  // Just signed out: what to do on a shared computer.
  { name: "login-after-sign-out", path: "/login?signed-out", signedIn: false },
  { name: "not-found", path: "/no/such/page", signedIn: false },
  { name: "dashboard", path: "/dashboard", signedIn: true },
  { name: "sessions", path: "/settings/sessions", signedIn: true },
  {
    name: "sessions-field-error",
    path: "/settings/sessions",
    signedIn: true,
    // A row's form refused: the message at that row's field, the field marked.
    prepare: async (page) => {
      const field = page.locator("li.session:not(.current)").getByLabel("Name this device");
      // Past the field's maxlength, as a browser that ignores it would send.
      await field.evaluate((el) => el.removeAttribute("maxlength"));
      await field.fill("A name that is far longer than forty characters");
      await page
        .locator("li.session:not(.current)")
        .getByRole("button", { name: /^Save name/ })
        .click();
      expect(await page.locator("li.session:not(.current) .form-error").textContent()).toBe("A device name is at most 40 characters.");
    },
  },
  { name: "profile", path: "/settings/profile", signedIn: true },
  { name: "password", path: "/settings/password", signedIn: true },
  { name: "unauthorized", path: "/unauthorized", signedIn: true },
  { name: "activity", path: "/settings/activity", signedIn: true },
  { name: "admin-users", path: "/admin/users", signedIn: true },
  {
    name: "admin-user",
    path: "/admin/users",
    signedIn: true,
    prepare: async (page) => {
      await page.getByLabel("Email starts with").fill("pages-");
      await page.getByRole("button", { name: "Find" }).click();
      await page.locator("table.data a").first().click();
    },
  },
  { name: "admin-audit", path: "/admin/audit", signedIn: true },
];

const WIDTHS = [
  { label: "desktop", viewport: { width: 1280, height: 800 }, userAgent: CHROME_WINDOWS, colorScheme: "light" as const },
  { label: "phone", viewport: { width: 375, height: 812 }, userAgent: SAFARI_IPHONE, colorScheme: "dark" as const },
];

// Every page state goes through axe-core (twice: light and dark) beside the test: more time than the default.
jest.setTimeout(90_000);

describeInBrowser("every page in Chromium", () => {
  let t: TestApp;
  let harness: Awaited<ReturnType<typeof browserHarness>>;
  let base: string;
  let audit: PageAudit;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Behind a "proxy" that names each device's public address, so that rows show a place.
    // Every page state shown at any width is audited in light and in dark colours.
    harness = await browserHarness({ TRUST_PROXY: "1" }, { auditColorSchemes: ["light", "dark"] });
    ({ t, base, audit } = harness);
  });

  // Every page state each test showed, in the colours and width it was shown in.
  afterEach(() => audit.expectNoViolations());

  afterAll(async () => {
    if (audit)
      writeFileSync(path.join(ROOT, "test-output", "axe-results.json"), `${JSON.stringify({ pages: audit.summary, notRead: audit.unread }, null, 2)}\n`);
    await harness?.close();
  });

  /** A tab of a device signed in to a fresh account, with a second device so the sessions page has two rows. */
  async function signedInTab(options: BrowserContextOptions): Promise<Page> {
    const context = await audit.newContext({ ...options, extraHTTPHeaders: { "X-Forwarded-For": "89.160.20.112" } });
    const page = await context.newPage();
    const email = `pages-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    await signUpInBrowser(page, base, harness.t, { name: "Ada Lovelace", email, password: "correct horse battery" });
    const other = await audit.newContext({ javaScriptEnabled: false, userAgent: SAFARI_IPHONE, extraHTTPHeaders: { "X-Forwarded-For": "216.160.83.56" } });
    const otherPage = await other.newPage();
    await otherPage.goto(`${base}/login`);
    await otherPage.getByLabel("Email").fill(email);
    await otherPage.getByLabel("Password").fill("correct horse battery");
    await otherPage.getByLabel("Keep me signed in on this device").check();
    await otherPage.getByRole("button", { name: "Sign in" }).click();
    await other.close();
    // The person names the phone, with a plain form (no script here either).
    await page.goto(`${base}/settings/sessions`);
    const phoneRow = page.locator("li.session:not(.current)");
    await phoneRow.getByLabel("Name this device").fill("Ada's iPhone");
    await phoneRow.getByRole("button", { name: /^Save name/ }).click();
    expect(await page.locator("li.session:not(.current) .device-detected").textContent()).toBe("Mobile Safari on iOS");
    expect(await page.locator("li.session:not(.current) .location").textContent()).toBe("Tacoma, United States");
    // An administrator, so the console's pages are in the tour too.
    await setRole(t.deps.users, t.deps.kit, email, "admin", OPERATOR);
    return page;
  }

  /** A tab of a device that has not signed in. */
  async function anonymousTab(options: BrowserContextOptions): Promise<Page> {
    return (await audit.newContext(options)).newPage();
  }

  /** Shows the page case in the tab (each case starts from its address, whatever the tab showed before). */
  async function open(page: Page, pc: PageCase): Promise<Page> {
    const res = await page.goto(`${base}${pc.path}`);
    expect(res?.status()).toBeLessThan(pc.name === "not-found" ? 500 : 400);
    await pc.prepare?.(page, base, t);
    return page;
  }

  /** Two tabs for a describe block's tests, one signed out and one signed in, closed after them. */
  function tabs(options: BrowserContextOptions): { anonymous: () => Page; signedIn: () => Page } {
    let anonymous: Page;
    let signedIn: Page;
    beforeAll(async () => {
      anonymous = await anonymousTab(options);
      signedIn = await signedInTab(options);
    });
    afterAll(async () => {
      await anonymous?.context().close();
      await signedIn?.context().close();
    });
    return { anonymous: () => anonymous, signedIn: () => signedIn };
  }

  describe.each(WIDTHS)("at $label width", ({ label, viewport, userAgent, colorScheme }) => {
    const tab = tabs({ javaScriptEnabled: false, viewport, userAgent, colorScheme });

    test.each(PAGES)("when $name is shown without JavaScript, then it renders, fits the width, and is saved as a screenshot", async (pc) => {
      const page = await open(pc.signedIn ? tab.signedIn() : tab.anonymous(), pc);
      const file = path.join(SCREENSHOTS, `${pc.name}-${label}.png`);
      await page.screenshot({ path: file, fullPage: true });
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(viewport.width);
      expect(await page.locator("script").count()).toBe(0);
      if (process.env.UPDATE_DOCS && ["sessions", "login", "login-signed-out"].includes(pc.name)) {
        mkdirSync(path.join(ROOT, "docs"), { recursive: true });
        copyFileSync(file, path.join(ROOT, "docs", `${pc.name}-${label}.png`));
      }
      // Audited while it is open (a page left at once would be listed as not read).
      await audit.settle();
    });
  });

  describe("at 320 px, the narrowest width", () => {
    const tab = tabs({ javaScriptEnabled: false, viewport: { width: 320, height: 640 }, userAgent: SAFARI_IPHONE });
    test.each(
      PAGES.filter((p) => ["login", "login-signed-out", "sessions", "signup-errors", "signup-confirm-errors", "profile", "dashboard"].includes(p.name)),
    )("when $name is shown, then nothing overflows sideways", async (pc) => {
      const page = await open(pc.signedIn ? tab.signedIn() : tab.anonymous(), pc);
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(320);
      await audit.settle();
    });
  });

  describe("the focus ring", () => {
    test.each(["light", "dark"] as const)(
      "when a field has the keyboard's focus in %s colours, then its ring has at least 3:1 against the page and the panel",
      async (colorScheme) => {
        const context = await audit.newContext({ javaScriptEnabled: false, colorScheme });
        const page = await context.newPage();
        await page.goto(`${base}/login`);
        await page.getByLabel("Email").focus();
        const colours = (await page.evaluate(`(() => {
        const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const field = getComputedStyle(document.activeElement);
        return {
          ring: rgb(field.outlineColor),
          ringWidth: parseFloat(field.outlineWidth),
          page: rgb(getComputedStyle(document.body).backgroundColor),
          panel: rgb(getComputedStyle(document.querySelector(".panel")).backgroundColor),
        };
      })()`)) as { ring: number[]; ringWidth: number; page: number[]; panel: number[] };
        expect(colours.ringWidth).toBeGreaterThanOrEqual(2);
        expect(contrast(colours.ring, colours.page)).toBeGreaterThanOrEqual(3);
        expect(contrast(colours.ring, colours.panel)).toBeGreaterThanOrEqual(3);
        await context.close();
      },
    );
  });
});

/** WCAG's contrast ratio of two sRGB colours. */
function contrast(a: number[], b: number[]): number {
  const luminance = (rgb: number[]) => {
    const [r, g, bl] = rgb.map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
