import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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
