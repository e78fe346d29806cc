import { RedisUserRepository } from "../../src/site/users/redis-user-repository";
import { type Agent, appWith, type BackendKind, browser, csrfFrom, finishSignUp, newAccount, signIn, submit, type TestApp, withTestApp } from "../helpers/app";
import { pauseBefore } from "../helpers/paused-client";
import { startSmtp, type TestSmtp } from "../helpers/smtp";
import { backendKinds, redisName } from "../helpers/topology";

const PUBLIC_URL = "https://sessions.example.test";
const WRONG = "That is not the password this account was last signed up with.";

/** The path of a link in a mail (a sign-up's or a reset's). */
function linkPath(text: string | undefined, page: "/signup/confirm" | "/password/reset"): string {
  const m = new RegExp(`https://sessions\\.example\\.test(${page}\\?t=[A-Za-z0-9_.-]+)`).exec(text ?? "");
  if (!m) throw new Error(`no ${page} link in:\n${text}`);
  return m[1];
}

const tokenOf = (link: string) => new URL(link, "http://x").searchParams.get("t")!;

describe.each<BackendKind>(backendKinds())("finishing a sign-up with the password chosen at it (%s)", (kind) => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => smtp.stop());
  const env = (extra: Record<string, string> = {}) => ({ SMTP_URL: smtp.url, PUBLIC_URL, ...extra });

  /** Sends the sign-up form, and gives the link of the sign-up mail it sent (the first to that address since). */
  async function signUpForLink(t: TestApp, account: { name: string; email: string; password: string }): Promise<string> {
    const since = smtp.received.length;
    const res = await submit(browser(t.app), "/signup", "/signup", account);
    expect([res.status, res.headers.location]).toEqual([303, "/signup/sent"]);
    return linkPath((await smtp.nextAbout(account.email, /^Finish creating your account$/, since)).text, "/signup/confirm");
  }

  /** Posts the link's form as a browser would, with a body of the test's own (`password=...` and more). */
  async function confirmWithBody(agent: Agent, link: string, extra: string) {
    const page = await agent.get(link);
    return agent
      .post("/signup/confirm")
      .type("form")
      .send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&t=${encodeURIComponent(tokenOf(link))}${extra}`);
  }

  test("when someone who made the account first signs up again right after its owner, then the owner's newest link does not confirm it with their password, and a reset link gives it to its owner", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const victim = newAccount("Ada Lovelace");
      const attacker = { ...victim, name: "Mallory", password: "mallory's pass phrase" };
      await signUpForLink(t, attacker);
      // The attacker watches: their own password answers "confirm first" while the account holds it...
      const watched = smtp.received.length;
      expect((await signIn(browser(t.app), attacker)).status).toBe(403);
      // (That answer mails the address a new link: arrived before the owner's own.)
      await smtp.nextAbout(victim.email, /^Finish creating your account$/, watched);
      await signUpForLink(t, victim);
      // ...and "wrong" once the owner's sign-up took it over: the moment to sign up again.
      expect((await signIn(browser(t.app), attacker)).status).toBe(422);
      const newest = await signUpForLink(t, attacker);

      // The owner opens the newest link in their mailbox and enters their own password.
      const owner = browser(t.app);
      const refused = await finishSignUp(owner, newest, victim.password);
      expect(refused.status).toBe(422);
      expect(refused.text).toContain(WRONG);
      expect((await owner.get("/dashboard")).status).toBe(303);
      expect((await t.deps.users.findByEmail(victim.email))?.confirmed).toBe(false);
      expect((await signIn(browser(t.app), attacker)).status).toBe(403);

      // The page's way out: "set a new password", whose link confirms the address too.
      const since = smtp.received.length;
      expect((await submit(owner, "/password/forgot", "/password/forgot", { email: victim.email })).status).toBe(200);
      const reset = linkPath((await smtp.nextAbout(victim.email, /^Set a new password$/, since)).text, "/password/reset");
      const set = await submit(owner, reset, "/password/reset", { t: tokenOf(reset), password: "ada's own pass phrase" });
      expect([set.status, set.headers.location]).toEqual([303, "/login"]);
      expect((await signIn(owner, { email: victim.email, password: "ada's own pass phrase" })).status).toBe(303);
      expect((await signIn(browser(t.app), attacker)).status).toBe(422);
    });
  });

  test("when the password on the link's page is wrong, then the same page answers 422 with the message at the field, keeps the link, and the right password still finishes the account", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const account = newAccount("Grace Hopper");
      const link = await signUpForLink(t, account);
      const agent = browser(t.app);
      const page = await agent.get(link);
      expect(page.text).toContain('<label for="password">Enter the password you chose when you signed up</label>');
      expect(page.text).toContain('autocomplete="current-password"');
      const wrong = await finishSignUp(agent, link, "not the password I chose");
      expect(wrong.status).toBe(422);
      expect(wrong.text).toContain(`<p class="field-error" id="password-error">${WRONG}</p>`);
      expect(wrong.text).toMatch(/aria-describedby="password-hint password-error" aria-invalid="true"/);
      expect(wrong.text).toContain(`<input type="hidden" name="t" value="${tokenOf(link)}">`);
      // Never shown again.
      expect(wrong.text).not.toContain("not the password I chose");
      expect((await agent.get("/dashboard")).status).toBe(303);
      const right = await finishSignUp(agent, link, account.password);
      expect([right.status, right.headers.location]).toEqual([303, "/dashboard"]);
      expect((await agent.get("/dashboard")).text).toContain("Signed in as <strong>Grace Hopper</strong>");
    });
  });

  test("when wrong passwords on the link's page pass the account's limit, then it answers 429 as the sign-in form does, and counts with it", async () => {
    await withTestApp(kind, { env: env({ SIGNIN_LIMIT_PER_ACCOUNT: "3" }) }, async (t) => {
      const account = newAccount();
      const link = await signUpForLink(t, account);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await finishSignUp(browser(t.app), link, `wrong password ${i}`)).status);
      expect(statuses).toEqual([422, 422, 422]);
      const over = await finishSignUp(browser(t.app), link, account.password);
      expect(over.status).toBe(429);
      expect(Number(over.headers["retry-after"])).toBeGreaterThan(0);
      expect(over.text).toContain("Too many wrong passwords on this account.");
      // One count with the sign-in form's: its right password waits as well.
      expect((await signIn(browser(t.app), account)).status).toBe(429);
      expect((await t.deps.users.findByEmail(account.email))?.confirmed).toBe(false);
    });
  });

  test("when the password comes missing, empty, twice or oversized, then the page answers 400 with a message at the field, never 5xx, and the link still works", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const account = newAccount();
      const link = await signUpForLink(t, account);
      const enter = "Enter the password you chose when you signed up.";
      const tooLong = "That password is too long: a password chosen at sign-up has at most 256 characters.";
      const pw = encodeURIComponent(account.password);
      const cases: Array<[string, string]> = [
        ["", enter],
        ["&password=", enter],
        [`&password=${pw}&password=${pw}`, enter],
        [`&password[]=${pw}`, enter],
        [`&password=${"x".repeat(257)}`, tooLong],
        [`&password=${"x".repeat(15_000)}`, tooLong],
      ];
      for (const [extra, message] of cases) {
        const res = await confirmWithBody(browser(t.app), link, extra);
        expect([extra.slice(0, 40), res.status]).toEqual([extra.slice(0, 40), 400]);
        expect(res.text).toContain(`<p class="field-error" id="password-error">${message}</p>`);
        expect(res.text).toContain(`<input type="hidden" name="t" value="${tokenOf(link)}">`);
      }
      const agent = browser(t.app);
      expect((await finishSignUp(agent, link, account.password)).status).toBe(303);
      expect((await agent.get("/dashboard")).status).toBe(200);
    });
  });
});

/**
 * The account store held at one exact point by a second app over the same Redis: its changes of
 * the account (a script's evalSha or eval on the account's key) wait there until the test
 * releases them, while the first app answers others.
 */
function pausedApp(t: TestApp, holds: (args: string[]) => boolean) {
  const pause = pauseBefore(t.redis!, (command, args) => {
    if (command !== "evalSha" && command !== "eval") return false;
    const options = args[1] as { keys?: string[]; arguments?: string[] } | undefined;
    return Boolean(options?.keys?.[0]?.startsWith(`${t.prefix}user:{`) && holds(options.arguments ?? []));
  });
  const app = appWith({ ...t.deps, users: new RedisUserRepository(pause.client, `${t.prefix}user:`) });
  return { app, pause };
}

describe(`a sign-up and a confirmation at the same time (${redisName()})`, () => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => smtp.stop());
  const options = () => ({ env: { SMTP_URL: smtp.url, PUBLIC_URL } });

  /** The owner's sign-up and its mailed link, and the one who made the account first, about to sign up again. */
  async function ownerSignedUp(t: TestApp) {
    const victim = newAccount("Ada Lovelace");
    const attacker = { ...victim, name: "Mallory", password: "mallory's pass phrase" };
    const since = smtp.received.length;
    expect((await submit(browser(t.app), "/signup", "/signup", victim)).status).toBe(303);
    const link = linkPath((await smtp.nextAbout(victim.email, /^Finish creating your account$/, since)).text, "/signup/confirm");
    return { victim, attacker, link };
  }

  test("when a sign-up takes the account over between the owner's password check and the confirmation's write, then the confirmation changes nothing", async () => {
    await withTestApp("redis", options(), async (t) => {
      const { victim, attacker, link } = await ownerSignedUp(t);
      // The confirmation's write of the account (it changes `unconfirmed`) is held.
      const { app, pause } = pausedApp(t, (args) => args.includes("unconfirmed"));
      const owner = browser(app);
      const page = await owner.get(link);
      const confirming = owner
        .post("/signup/confirm")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: tokenOf(link), password: victim.password })
        .then((res) => res);
      await pause.reached;
      expect((await submit(browser(t.app), "/signup", "/signup", attacker)).status).toBe(303);
      pause.release();
      expect((await confirming).status).toBe(410);
      expect((await t.deps.users.findByEmail(victim.email))?.confirmed).toBe(false);
      expect((await signIn(browser(t.app), attacker)).status).toBe(403);
    });
  });

  test("when the owner confirms the account while a sign-up that read it unconfirmed is about to take it over, then the sign-up changes nothing and the owner is told the address has an account", async () => {
    await withTestApp("redis", options(), async (t) => {
      const { victim, attacker, link } = await ownerSignedUp(t);
      // The takeover's write (the one with new credentials) is held.
      const { app, pause } = pausedApp(t, (args) => args[0] === "1");
      const takingOver = submit(browser(app), "/signup", "/signup", attacker);
      await pause.reached;
      const owner = browser(t.app);
      expect((await finishSignUp(owner, link, victim.password)).status).toBe(303);
      const told = smtp.received.length;
      pause.release();
      expect((await takingOver).status).toBe(303);
      await smtp.nextAbout(victim.email, /^You already have an account$/, told);
      expect((await owner.get("/dashboard")).status).toBe(200);
      expect((await signIn(browser(t.app), victim)).status).toBe(303);
      expect((await signIn(browser(t.app), attacker)).status).toBe(422);
    });
  });
});
