import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Agent, browser, CHROME_WINDOWS, createTestApp, listen, signUp, type TestApp } from "../helpers/app";
import { ENTER, fillAndSubmit, go, key, Lynx, move, numberOf, pausesIn, redirectsIn, requireLynx, type } from "../helpers/lynx";
import { freePort } from "../helpers/redis-server";
import { testClock } from "../helpers/stores";

/**
 * A person in lynx (Debian's, the real program, with a fresh profile), against the real
 * server and Redis: a wrong password, signing in, the sessions page, signing another device
 * out with the password entered again, naming this device, and signing out, with lynx's default
 * pauses: none of them may be one a site can spare lynx (see LYNX_PAUSES). What lynx showed at
 * each step is kept under test-output/lynx/, with how long each step took (figures.json).
 */

const OUTPUT = path.join(__dirname, "..", "..", "test-output", "lynx");

describe("signing a device out in lynx", () => {
  const clock = testClock();
  const account = { name: "Ada Lovelace", email: `lynx-${Date.now()}@example.com`, password: "lynx-passphrase-2026" };
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  let base: string;
  let lynx: Lynx;
  let chrome: Agent;
  let step = 0;

  const figures: { step: string; seconds: number; redirects: number }[] = [];
  /** After a run of lynx: no pause a site could spare, and what the step cost, for the figures. */
  const noPause = (name: string) => {
    figures.push({ step: name, seconds: Math.round(lynx.took / 100) / 10, redirects: redirectsIn(lynx.screen) });
    expect(pausesIn(lynx.screen)).toEqual([]);
  };

  /** Keeps what lynx showed, named for the step (and its screen, statusline messages included, after a run). */
  const keep = (name: string, text: string, screen?: string) => {
    writeFileSync(path.join(OUTPUT, `${String(++step).padStart(2, "0")}-${name}.txt`), text);
    if (screen !== undefined) writeFileSync(path.join(OUTPUT, `${String(step).padStart(2, "0")}-${name}.screen.txt`), screen);
    return text;
  };

  beforeAll(async () => {
    // Fails here, naming the package, when lynx is not installed.
    requireLynx();
    mkdirSync(OUTPUT, { recursive: true });
    // A re-authentication window shorter than the rotation interval: moving the clock past it
    // asks for the password without giving the session a new id as well.
    // The site's address, as operators set it: redirects are absolute, and lynx goes on at once.
    const port = await freePort();
    t = await createTestApp("redis", { clock, env: { SESSION_REAUTH_WINDOW: "300", PUBLIC_URL: `http://127.0.0.1:${port}` } });
    server = await listen(t.app, port);
    base = server.base;
    lynx = new Lynx();
    // The account and its other device, signed in before lynx is.
    chrome = browser(t.app, CHROME_WINDOWS);
    await signUp(chrome, account);
  });

  afterAll(async () => {
    writeFileSync(path.join(OUTPUT, "figures.json"), `${JSON.stringify(figures, null, 2)}\n`);
    lynx?.close();
    await server?.close();
    await t?.close();
  });

  /** The sign-in form's fields, by the numbers lynx gives them. */
  async function signInForm() {
    const page = keep("sign-in-page", await lynx.dump(`${base}/login`));
    return {
      email: numberOf(page, /Email \[(\d+)\]_/),
      password: numberOf(page, /Password \[(\d+)\]_/),
      remember: numberOf(page, /\[(\d+)\]\[ \] Keep me signed in/),
      submit: numberOf(page, /\(\[(\d+)\]BUTTON\) Sign in/),
    };
  }

  test("when the password is wrong, then lynx shows the form again with the message at once", async () => {
    const f = await signInForm();
    const [shown] = await lynx.interact(
      `${base}/login`,
      (save) => move(1, f.email) + type(account.email) + move(f.email, f.password) + type("not-the-password") + move(f.password, f.submit) + ENTER + save(),
    );
    keep("wrong-password", shown, lynx.screen);
    noPause("wrong-password");
    expect(shown).toContain("That email and password do not match an account.");
    // The address stays in its field (the field shows its first 20 characters).
    expect(shown).toMatch(/Email \[\d+\]lynx-\d+@/);
    // A 401 without a challenge made lynx ask this before it showed anything.
    expect(lynx.screen).not.toContain("Show the 401 message body?");
  });

  test("when the password is right, then the dashboard's words stay apart and lynx stays signed in", async () => {
    const f = await signInForm();
    const [shown] = await lynx.interact(
      `${base}/login`,
      (save) =>
        move(1, f.email) +
        type(account.email) +
        move(f.email, f.password) +
        type(account.password) +
        move(f.password, f.remember) +
        ENTER +
        move(f.remember, f.submit) +
        ENTER +
        save(),
    );
    keep("dashboard", shown, lynx.screen);
    noPause("dashboard");
    expect(shown).toContain(`Signed in as ${account.name}`);
    // Each card's title and its words on lines of their own.
    expect(shown).toMatch(/Your sessions\s*\n\s*See where you are signed in/);
    expect(shown).not.toMatch(/Your sessionsSee/);
  });

  test("when the sessions page is opened, then it names lynx and the other device, each control plainly a button", async () => {
    const page = keep("sessions", await lynx.dump(`${base}/settings/sessions`));
    expect(page).toMatch(/Lynx · Desktop This device/);
    expect(page).toMatch(/Chrome on Windows · Desktop/);
    expect(page).not.toContain("on GNU");
    // The button says what it does, and only that: no hidden words that read as a sentence.
    expect(page).toMatch(/\(\[\d+\]BUTTON\) Sign out\n/);
    expect(page).not.toMatch(/Sign out Chrome on Windows/);
  });

  /** The other device's row: its password field and its Sign out button. */
  async function chromeRow() {
    // Past the re-authentication window: the password is asked in the row's own form.
    clock.advance(6 * 60 * 1000);
    // A page first, so that lynx's session is the most recently active and the rows keep their order.
    await lynx.dump(`${base}/dashboard`);
    const page = keep("sessions-password-asked", await lynx.dump(`${base}/settings/sessions`));
    const row = page.slice(page.indexOf("Chrome on Windows"));
    return { password: numberOf(row, /Your password \[(\d+)\]_/), submit: numberOf(row, /\(\[(\d+)\]BUTTON\) Sign out\n/) };
  }

  test("when a wrong password is entered to sign the other device out, then lynx shows the page again with the message, and nothing ends", async () => {
    const f = await chromeRow();
    const [shown] = await lynx.interact(
      `${base}/settings/sessions`,
      (save) => move(1, f.password) + type("not-the-password") + move(f.password, f.submit) + ENTER + save(),
    );
    keep("sign-out-chrome-wrong-password", shown, lynx.screen);
    noPause("sign-out-chrome-wrong-password");
    expect(shown).toContain("That password is not correct.");
    expect(shown).toContain("Chrome on Windows");
    expect(lynx.screen).not.toContain("Show the 401 message body?");
    expect((await chrome.get("/dashboard")).status).toBe(200);
  });

  test("when the right password is entered, then the other device is signed out and lynx lists only itself", async () => {
    const f = await chromeRow();
    const [shown] = await lynx.interact(
      `${base}/settings/sessions`,
      (save) => move(1, f.password) + type(account.password) + move(f.password, f.submit) + ENTER + save(),
    );
    keep("sign-out-chrome", shown, lynx.screen);
    noPause("sign-out-chrome");
    expect(shown).toContain("Signed out that session.");
    expect(shown).not.toContain("Chrome on Windows");
    expect(shown).toContain("This is the only device signed in to your account.");
    expect((await chrome.get("/dashboard")).status).toBe(303);
  });

  test("when this device is named, and named again, then lynx goes back to the sessions page each time without a pause, the name shown", async () => {
    const page = keep("sessions-to-name", await lynx.dump(`${base}/settings/sessions`));
    const f = { name: numberOf(page, /Name this device \[(\d+)\]/), save: numberOf(page, /\(\[(\d+)\]BUTTON\) Save name/) };
    const name = (text: string) => move(1, f.name) + key("^U") + type(text) + move(f.name, f.save) + ENTER;
    const [named, renamed] = await lynx.interact(`${base}/settings/sessions`, (save) => name("Desk-lynx") + save() + name("Lynx-desk") + save());
    keep("named", named);
    keep("renamed", renamed, lynx.screen);
    noPause("name-this-device-twice");
    expect(named).toContain('Named it "Desk-lynx".');
    expect(renamed).toContain('Named it "Lynx-desk".');
    expect(renamed).toMatch(/Lynx-desk Lynx · Desktop This device/);
  });

  test("when lynx signs out, then opening a signed-in page it showed before asks the server again, and shows the sign-in page", async () => {
    const dashboard = keep("dashboard-before-sign-out", await lynx.dump(`${base}/dashboard`));
    expect(dashboard).toContain(`Signed in as ${account.name}`);
    const signOut = numberOf(dashboard, /\(\[(\d+)\]BUTTON\) Sign out/);
    // The dashboard is in this lynx's memory: under no-store alone, `g` would show that copy.
    const [signedOut, again] = await lynx.interact(`${base}/dashboard`, (save) => move(1, signOut) + ENTER + save() + go(`${base}/dashboard`) + save());
    keep("signed-out", signedOut);
    keep("dashboard-after-sign-out", again, lynx.screen);
    noPause("sign-out");
    // Lynx's Back shows its own copy of a page whatever its headers said: the page says what to do.
    expect(signedOut).toContain("You are signed out. On a shared or public computer, quit the browser now");
    for (const shown of [signedOut, again]) {
      expect(shown).toMatch(/Email \[\d+\]_/);
      expect(shown).toMatch(/BUTTON\) Sign in/);
      expect(shown).not.toContain("Signed in as");
      expect(shown).not.toMatch(/BUTTON\) Sign out/);
    }
  });
});

describe("finishing a sign-up in lynx", () => {
  const account = { name: "Ada", email: `lynx-signup-${Date.now()}@example.com`, password: "lynx-passphrase-2026" };
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  let lynx: Lynx;

  beforeAll(async () => {
    requireLynx();
    mkdirSync(OUTPUT, { recursive: true });
    const port = await freePort();
    t = await createTestApp("redis", { env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
    server = await listen(t.app, port);
    lynx = new Lynx();
  });

  afterAll(async () => {
    lynx?.close();
    await server?.close();
    await t?.close();
  });

  test("when the mail's link is opened, then its form takes the password chosen at sign-up, a wrong one shown at the field, and signs lynx in", async () => {
    const form = await lynx.dump(`${server.base}/signup`);
    const s = {
      name: numberOf(form, /Name \[(\d+)\]_/),
      email: numberOf(form, /Email \[(\d+)\]_/),
      password: numberOf(form, /Password \[(\d+)\]_/),
      submit: numberOf(form, /\(\[(\d+)\]BUTTON\) Create account/),
    };
    const filled: Array<[number, string]> = [
      [s.name, account.name],
      [s.email, account.email],
      [s.password, account.password],
    ];
    const [sent] = await lynx.interact(`${server.base}/signup`, (save) => fillAndSubmit(filled, s.submit) + save());
    expect(sent).toContain("Check your mail");
    const mail = t.mails.find((m) => m.to === account.email && m.subject === "Finish creating your account");
    const link = /http:\/\/127\.0\.0\.1:\d+\/signup\/confirm\?t=[A-Za-z0-9_.-]+/.exec(mail?.text ?? "")![0];
    const page = await lynx.dump(link);
    writeFileSync(path.join(OUTPUT, "sign-up-confirm.txt"), page);
    expect(page).toContain("Enter the password you chose when you signed up");
    const f = { password: numberOf(page, /signed up \[(\d+)\]_/), submit: numberOf(page, /\(\[(\d+)\]BUTTON\) Finish creating my account/) };
    const enter = (password: string) => fillAndSubmit([[f.password, password]], f.submit);
    const [wrong] = await lynx.interact(link, (save) => enter("not-the-password") + save());
    writeFileSync(path.join(OUTPUT, "sign-up-confirm-wrong.txt"), wrong);
    expect(pausesIn(lynx.screen)).toEqual([]);
    expect(wrong).toContain("That is not the password this account was last signed up with.");
    const [done] = await lynx.interact(link, (save) => enter(account.password) + save());
    expect(pausesIn(lynx.screen)).toEqual([]);
    expect(done).toContain(`Signed in as ${account.name}`);
  });
});
