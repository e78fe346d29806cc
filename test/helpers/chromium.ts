import { existsSync, readFileSync } from "node:fs";
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page, type Response } from "playwright-core";
import { createTestApp, listen, type TestApp } from "./app";

/** Debian's chromium; CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export const NO_CHROMIUM =
  `BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM_PATH}. Install the "chromium" package ` +
  "(Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH. .ci/run installs it.";

/** Headless Chromium with the flags a closed network needs; Playwright gives it a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

/** describe when Chromium is there; otherwise skipped (global-setup says so, loudly, once). */
export function describeInBrowser(name: string, body: () => void): void {
  (hasChromium() ? describe : describe.skip)(name, body);
}

/**
 * The app served on a free port against a real Redis, a Chromium to drive it, and the audit
 * its contexts are made through (`audit.newContext`), so that every page they show is checked
 * (in each of `auditColorSchemes` when given, otherwise in the colours the context shows).
 */
export async function browserHarness(
  env: Record<string, string> = {},
  { auditColorSchemes }: { auditColorSchemes?: Array<"light" | "dark"> } = {},
): Promise<{ t: TestApp; base: string; browser: Browser; audit: PageAudit; close(): Promise<void> }> {
  const t = await createTestApp("redis", { env });
  const server = await listen(t.app);
  const browser = await launchChromium();
  const audit = new PageAudit(browser, auditColorSchemes);
  return {
    t,
    base: server.base,
    browser,
    audit,
    async close() {
      await audit.close();
      await browser.close();
      await server.close();
      await t.close();
    },
  };
}

/**
 * Creates an account in a page as a person does: the sign-up form, then the link of the mail
 * it sends (made as the mail makes it) and its button. The page ends signed in on the dashboard.
 */
export async function signUpInBrowser(page: Page, base: string, t: TestApp, account: { name: string; email: string; password: string }): Promise<void> {
  await openSignUpLink(page, base, t, account);
  await page.getByLabel("Enter the password you chose when you signed up").fill(account.password);
  await page.getByRole("button", { name: "Finish creating my account" }).click();
}

/** The sign-up form sent in a page, then its mail's link opened there (made as the mail makes it): the page that asks for the password. */
export async function openSignUpLink(page: Page, base: string, t: TestApp, account: { name: string; email: string; password: string }): Promise<void> {
  await page.goto(`${base}/signup`);
  await page.getByLabel("Name").fill(account.name);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Create account" }).click();
  if (new URL(page.url()).pathname !== "/signup/sent") throw new Error(`sign-up failed at ${page.url()}`);
  const user = await t.deps.users.findByEmail(account.email);
  if (!user) throw new Error("sign-up failed: no account was created");
  await page.goto(`${base}/signup/confirm?t=${t.deps.kit.links.make("sign-up", user.id, { version: user.cv })}`);
}

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
/** Playwright's words for a body gone with its page: closed, or navigated away from. */
const LEFT_AT_ONCE = /has been closed|navigated away from|No resource with given identifier/;

/** One thing axe-core (or the one-h1 rule) found on one page state. */
export interface AuditFinding {
  page: string;
  rule: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** The page that audits one kind of device, and the document it is to show next. */
interface Auditor {
  context: BrowserContext;
  page: Page;
  shown?: { url: string; html: string };
}

interface AxeResults {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }>;
  passes: unknown[];
}

/**
 * axe-core over every page state a test's browser contexts receive, failing on any violation,
 * and on a page without exactly one h1. The product runs no script and its contexts have
 * JavaScript off, where axe cannot run; so each HTML page is audited as it arrived, in a
 * context of its own that runs axe: the same document at the same address (its stylesheet
 * from the server), at the same viewport, in the context's colour scheme (or in each of
 * `colorSchemes`, loaded afresh in each). Pages are audited one at a time, beside the test;
 * `expectNoViolations()` waits for them and reports what they found.
 */
export class PageAudit {
  private queue: Promise<unknown> = Promise.resolve();
  /** One page per kind of device (isMobile, hasTouch), loaded afresh for each audit; axe comes with every document. */
  private readonly auditors = new Map<string, Promise<Auditor>>();
  private findings: AuditFinding[] = [];
  /** Pages a test left before their body could be read. */
  readonly unread: string[] = [];
  /** Every page state audited, with its violations by rule and how many rules passed. */
  readonly summary: Record<string, { violations: Array<{ id: string; impact: string | null; nodes: number }>; passes: number }> = {};

  /** colorSchemes: audit every page in each of these rather than in its context's own. */
  constructor(
    private readonly browser: Browser,
    private readonly colorSchemes?: Array<"light" | "dark">,
  ) {}

  /** A browser context whose every page is audited. */
  async newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    const context = await this.browser.newContext(options);
    context.on("response", (response) => this.onResponse(response, options));
    return context;
  }

  private onResponse(response: Response, options: BrowserContextOptions): void {
    const request = response.request();
    const status = response.status();
    if (!request.isNavigationRequest() || request.frame().parentFrame() !== null) return;
    if ((status >= 300 && status < 400) || !(response.headers()["content-type"] ?? "").startsWith("text/html")) return;
    // The body is taken at once, before the page moves on; the audit waits its turn. A page the
    // test left (or closed) before its body could be read was shown to no one: it is listed as
    // not read, and any other failure to read it is a finding.
    const html = response.text().catch((err: Error) => {
      if (LEFT_AT_ONCE.test(err.message)) return null;
      throw err;
    });
    const schemes = this.colorSchemes ?? [options.colorScheme ?? "light"];
    const label = (scheme: string) => `${request.method()} ${new URL(response.url()).pathname} ${status} (${scheme}, ${options.viewport?.width ?? 1280} px)`;
    const audit = () =>
      html.then(async (body) => {
        if (body === null) this.unread.push(label(schemes.join(" and ")));
        else for (const scheme of schemes) await this.audit(label(scheme), response.url(), body, { ...options, colorScheme: scheme });
      });
    this.queue = this.queue.then(audit, audit).catch((err: Error) => {
      this.findings.push({ page: label(schemes.join(" and ")), rule: "audit-failed", impact: null, help: err.message, targets: [] });
    });
  }

  private auditor(options: BrowserContextOptions): Promise<Auditor> {
    const key = `${options.isMobile === true} ${options.hasTouch === true}`;
    let auditor = this.auditors.get(key);
    if (!auditor) {
      auditor = (async () => {
        const context = await this.browser.newContext({ javaScriptEnabled: true, bypassCSP: true, isMobile: options.isMobile, hasTouch: options.hasTouch });
        await context.addInitScript({ content: AXE_SOURCE });
        const page = await context.newPage();
        const made: Auditor = { context, page };
        // The audited document as it arrived, at its own address; its stylesheet from the server.
        await page.route("**/*", (route) =>
          made.shown && route.request().url() === made.shown.url
            ? route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: made.shown.html })
            : route.continue(),
        );
        return made;
      })();
      this.auditors.set(key, auditor);
    }
    return auditor;
  }

  private async audit(label: string, url: string, html: string, options: BrowserContextOptions): Promise<void> {
    const auditor = await this.auditor(options);
    const { page } = auditor;
    auditor.shown = { url, html };
    try {
      await page.setViewportSize(options.viewport ?? { width: 1280, height: 720 });
      await page.emulateMedia({ colorScheme: options.colorScheme ?? "light" });
      await page.goto(url);
      const results = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as AxeResults;
      this.summary[label] = {
        violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })),
        passes: results.passes.length,
      };
      for (const v of results.violations) {
        this.findings.push({ page: label, rule: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) });
      }
      const h1s = await page.locator("h1").count();
      if (h1s !== 1) this.findings.push({ page: label, rule: "one-h1", impact: null, help: `a page has one h1; this one has ${h1s}`, targets: [] });
    } finally {
      auditor.shown = undefined;
    }
  }

  /** Waits for the pages received so far to be audited. */
  async settle(): Promise<void> {
    let settled: Promise<unknown>;
    do {
      settled = this.queue;
      await settled;
    } while (settled !== this.queue);
  }

  /** Waits for the pages received so far to be audited; fails on anything found, and starts afresh. */
  async expectNoViolations(): Promise<void> {
    await this.settle();
    const found = this.findings;
    this.findings = [];
    expect(found).toEqual([]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.auditors.values()].map(async (a) => (await a).context.close()));
  }
}
