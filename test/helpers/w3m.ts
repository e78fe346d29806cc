import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian's w3m; W3M_PATH overrides. */
export const W3M_PATH = process.env.W3M_PATH ?? "/usr/bin/w3m";

/** The tests that read pages in w3m need it: without it they fail, saying what to install. */
export function requireW3m(): void {
  if (!existsSync(W3M_PATH)) throw new Error(`no w3m at ${W3M_PATH}: install Debian's "w3m" package (apt-get install w3m) or set W3M_PATH.`);
}

/**
 * w3m with a home of its own (no ~/.w3m of the machine's), its defaults otherwise, reading pages
 * as `-dump` lays them out, with the cookie a test hands it sent on every request it makes
 * (redirects followed included).
 */
export class W3m {
  private readonly dir = mkdtempSync(path.join(tmpdir(), "w3m-"));
  private posts = 0;

  constructor(
    private readonly cookie: string,
    private readonly cols = 100,
  ) {}

  private async w3m(mode: "-dump" | "-dump_source", args: string[]): Promise<string> {
    const env = { PATH: process.env.PATH, HOME: this.dir, TERM: "dumb", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };
    const { stdout } = await run(W3M_PATH, [mode, "-cols", String(this.cols), "-no-cookie", "-header", `Cookie: ${this.cookie}`, ...args], {
      env,
      timeout: 20_000,
    });
    return stdout;
  }

  /** The page at this address, as w3m lays it out. */
  dump(url: string): Promise<string> {
    return this.w3m("-dump", [url]);
  }

  /** The page's HTML as w3m received it (for a form's token). */
  source(url: string): Promise<string> {
    return this.w3m("-dump_source", [url]);
  }

  /** Sends a form (urlencoded) and returns the page w3m ends on, redirects followed. */
  post(url: string, fields: Record<string, string>): Promise<string> {
    const body = path.join(this.dir, `post-${++this.posts}`);
    writeFileSync(body, new URLSearchParams(fields).toString());
    return this.w3m("-dump", ["-post", body, url]);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
