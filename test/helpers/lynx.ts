import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian's lynx; LYNX_PATH overrides. */
export const LYNX_PATH = process.env.LYNX_PATH ?? "/usr/bin/lynx";

/** The text browser tests need lynx itself: without it they fail, saying what to install. */
export function requireLynx(): void {
  if (!existsSync(LYNX_PATH)) {
    throw new Error(`no lynx at ${LYNX_PATH}: install Debian's "lynx" package (apt-get install lynx) or set LYNX_PATH. .ci/run installs it.`);
  }
}

/** One keystroke line of a -cmd_script: a key name ("Down Arrow", "^J") or a printable character. */
export const key = (k: string) => `key ${k}\n`;
/** Text typed into the highlighted field, a key at a time (no spaces: a script line cannot end in one). */
export function type(text: string): string {
  if (/\s/.test(text)) throw new Error("lynx scripts here type no whitespace");
  return [...text].map(key).join("");
}
/** Moves the highlight from link number `from` to link number `to` (links and fields in document order). */
export function move(from: number, to: number): string {
  return key(to >= from ? "Down Arrow" : "Up Arrow").repeat(Math.abs(to - from));
}
export const ENTER = key("^J");
/** From the top of a page: types each text into its field (by lynx's numbers, in document order), then presses the button numbered `submit`. */
export function fillAndSubmit(fields: Array<[field: number, text: string]>, submit: number): string {
  let at = 1;
  let keys = "";
  for (const [field, text] of fields) {
    keys += move(at, field) + type(text);
    at = field;
  }
  return keys + move(at, submit) + ENTER;
}
/** The `g` command: opens an address. */
export function go(url: string): string {
  return key("g") + key("^U") + type(url) + ENTER;
}

/**
 * What default lynx stops on that a site can spare it: a relative redirect (2 s, then "Using"
 * the address it made), a form's result at the address of the page the person typed into
 * (a 3 s alert), and a 401 without a challenge (a question). Lynx still says "Using ADDRESS"
 * for 2 s after every redirect, absolute or not (LYGetFile.c), and alerts for 3 s on every
 * 4xx status: those are lynx's own, for every site.
 */
export const LYNX_PAUSES = [/Location URL is not absolute/, /Reloading document/, /Any form entries will be lost/, /Show the 401 message body\?/];

/**
 * Lynx with a profile of its own (a fresh cookie file, no ~/.lynxrc), cookies accepted and
 * kept across runs (persistent ones, as "Keep me signed in" makes), its default pauses on
 * statusline messages (so a redirect that makes it wait shows, and costs the test the same
 * seconds it costs a person), and no partial display: a key is read only once the whole page
 * is laid out (while a page loads, lynx would move over the part it has, and a script's keys
 * land elsewhere).
 */
export class Lynx {
  private readonly dir = mkdtempSync(path.join(tmpdir(), "lynx-"));
  private readonly cookies = path.join(this.dir, "cookies");
  private readonly cfg = path.join(this.dir, "lynx.cfg");
  private saved = 0;
  /** What lynx drew on its screen in the last interactive run, for prompts it should never ask. */
  screen = "";
  /** How long the last interactive run took, keystrokes to quitting, in milliseconds (reported, never asserted). */
  took = 0;

  /** `width`: the terminal's columns (100 unless a test reads a page at another width). */
  constructor(private readonly width = 100) {
    writeFileSync(this.cookies, "");
    writeFileSync(
      this.cfg,
      [`INCLUDE:${existsSync("/etc/lynx/lynx.cfg") ? "/etc/lynx/lynx.cfg" : "/etc/lynx.cfg"}`, "PERSISTENT_COOKIES:TRUE", "PARTIAL:FALSE", ""].join("\n"),
    );
  }

  private args(): string[] {
    return [
      `-cfg=${this.cfg}`,
      "-accept_all_cookies",
      `-cookie_file=${this.cookies}`,
      `-cookie_save_file=${this.cookies}`,
      "-number_fields",
      "-display_charset=utf-8",
      `-width=${this.width}`,
    ];
  }

  private env(): NodeJS.ProcessEnv {
    // A screen tall enough for a whole page: each Down Arrow then moves to the next link, never
    // spends itself scrolling to it.
    return { PATH: process.env.PATH, HOME: this.dir, TERM: "vt100", LINES: "200", COLUMNS: String(this.width), LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };
  }

  /** Hands lynx a cookie a test's own client got ("sid=...; Path=/; ..."), as if lynx had signed in at `base`. */
  useCookie(base: string, setCookie: string): void {
    const [pair] = setCookie.split(";");
    const at = pair!.indexOf("=");
    // Netscape's cookie file: domain, subdomains, path, secure, expiry, name, value.
    const line = [new URL(base).hostname, "FALSE", "/", "FALSE", "4102444800", pair!.slice(0, at), pair!.slice(at + 1)].join("\t");
    writeFileSync(this.cookies, `${line}\n`);
  }

  /** What `lynx -dump` shows at this address, links and fields numbered. */
  async dump(url: string): Promise<string> {
    const { stdout } = await run(LYNX_PATH, [...this.args(), "-dump", url], { env: this.env(), timeout: 20_000 });
    return stdout;
  }

  /**
   * Runs lynx at `url` with these keystrokes; `save()` in the script writes what the screen's
   * page shows at that point (the P)rint menu's "Save to a local file"). Returns the pages saved.
   */
  async interact(url: string, script: (save: () => string) => string): Promise<string[]> {
    const files: string[] = [];
    const save = () => {
      const file = path.join(this.dir, `page-${++this.saved}.txt`);
      files.push(file);
      return key("p") + ENTER + key("^U") + type(file) + ENTER;
    };
    const scriptFile = path.join(this.dir, `script-${this.saved}.txt`);
    // Quit as a person does (Q, then yes): lynx saves its cookies then; `exit` would not.
    writeFileSync(scriptFile, `${script(save)}${key("q")}${key("y")}exit\n`);
    const started = performance.now();
    const { stdout } = await run(LYNX_PATH, [...this.args(), `-cmd_script=${scriptFile}`, url], {
      env: this.env(),
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    this.took = performance.now() - started;
    this.screen = stdout;
    return files.map((file) => {
      if (!existsSync(file)) throw new Error(`lynx saved no page to ${file}; its screen ended with:\n${stdout.slice(-2000)}`);
      return readFileSync(file, "utf8");
    });
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The avoidable pauses and prompts lynx showed on its screen in a run (none: every page came as soon as lynx allows). */
export function pausesIn(screen: string): string[] {
  return LYNX_PAUSES.filter((message) => message.test(screen)).map(String);
}

/** How many redirects lynx followed in a run: each costs its "Using ADDRESS" message's 2 s. */
export function redirectsIn(screen: string): number {
  return new Set(screen.match(/Using https?:\/\/[\w.:/?%&=-]+/g) ?? []).size;
}

/** The number lynx gives the link or field that `pattern`'s first group captures, in a numbered page. */
export function numberOf(page: string, pattern: RegExp): number {
  const m = pattern.exec(page);
  if (!m) throw new Error(`nothing like ${pattern} in:\n${page}`);
  return Number(m[1]);
}
