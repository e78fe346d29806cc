import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
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

/** The app served on a free port against a real Redis, and a Chromium to drive it. */
export async function browserHarness(env: Record<string, string> = {}): Promise<{ t: TestApp; base: string; browser: Browser; close(): Promise<void> }> {
  const t = await createTestApp("redis", { env });
  const server = await listen(t.app);
  const browser = await launchChromium();
  return {
    t,
    base: server.base,
    browser,
    async close() {
      await browser.close();
      await server.close();
      await t.close();
    },
  };
}
