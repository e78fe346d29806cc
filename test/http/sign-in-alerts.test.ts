import request from "supertest";
import { createMetrics } from "../../src/package/metrics-entry";
import { browser, CHROME_WINDOWS, csrfFrom, newAccount, SAFARI_IPHONE, signIn, signUp, type TestApp, withTestApp } from "../helpers/app";
import { startSmtp, type TestSmtp } from "../helpers/smtp";
import { testClock } from "../helpers/stores";
import { redisName } from "../helpers/topology";

const kinds = ["embedded", "redis"] as const;
const PUBLIC_URL = "https://sessions.example.test";

/** The "This wasn't me" link of a mail, as a path on the test app. */
function notMePath(text: string): string {
  const m = /https:\/\/sessions\.example\.test(\/settings\/sessions\/not-me\?t=[A-Za-z0-9_.-]+)/.exec(text);
  if (!m) throw new Error(`no "This wasn't me" link in:\n${text}`);
  return m[1];
}

describe.each(kinds)("sign-in alerts by email (%s)", (kind) => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => smtp.stop());
  const env = () => ({ SMTP_URL: smtp.url, PUBLIC_URL, MAIL_FROM: "Sessions <alerts@example.test>" });
  /** An account on a laptop, then signed in on a phone: the phone's alert and its "This wasn't me" link. */
  async function signedInOnTwo(t: TestApp) {
    const laptop = browser(t.app, CHROME_WINDOWS);
    const account = await signUp(laptop);
    await smtp.nextAbout(account.email, /^New sign-in/);
    const since = smtp.received.length;
    const other = browser(t.app, SAFARI_IPHONE);
    expect((await signIn(other, account)).status).toBe(303);
    const link = notMePath((await smtp.nextTo(account.email, since)).text ?? "");
    return { laptop, account, other, link };
  }

  test(`when an account signs in on a new device, then one mail arrives with the device and a link; a known device sends none (${kind === "redis" ? redisName() : "embedded"})`, async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      const first = await smtp.nextAbout(account.email, /^New sign-in/);
      expect(first.from?.text).toContain("alerts@example.test");
      expect(first.subject).toBe("New sign-in to your sessions.example.test account: Chrome on Windows");
      expect(first.text).toContain("Chrome on Windows");
      expect(first.text).toMatch(/\d+ \w+ 20\d\d, \d\d:\d\d UTC/);
      expect(first.html).toContain("not-me?t=");
      expect(first.html).not.toMatch(/<img|<script/i);

      // The same browser again: it is a known device of the account now.
      const count = smtp.received.length;
      await laptop
        .post("/logout")
        .type("form")
        .send({ _csrf: csrfFrom((await laptop.get("/dashboard")).text) });
      expect((await signIn(laptop, account)).status).toBe(303);
      await new Promise((r) => setTimeout(r, 300));
      expect(smtp.received.slice(count).filter((m) => m.subject?.startsWith("New sign-in"))).toHaveLength(0);
    });
  });

  test("when the link is opened, then nothing changes; when its form is sent, that session ends, the owner sets a new password, and every session ends", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const laptop = browser(t.app, CHROME_WINDOWS);
      const account = await signUp(laptop);
      await smtp.nextAbout(account.email, /^New sign-in/);
      const since = smtp.received.length;
      const thief = browser(t.app, SAFARI_IPHONE);
      expect((await signIn(thief, account)).status).toBe(303);
      const alert = await smtp.nextTo(account.email, since);
      expect(alert.text).toContain("Safari on iOS");
      const link = notMePath(alert.text ?? "");

      // A mail scanner (or the owner) opens it: a page and a form, nothing ended.
      const reader = request.agent(t.app);
      const page = await reader.get(link);
      expect(page.status).toBe(200);
      expect(page.text).toContain("Safari on iOS");
      expect((await thief.get("/dashboard")).status).toBe(200);

      const ended = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: new URL(link, PUBLIC_URL).searchParams.get("t") });
      expect(ended.status).toBe(200);
      expect(ended.text).toContain("New password");
      const thiefPage = await thief.get("/dashboard");
      expect(thiefPage.status).toBe(303);
      expect((await thief.get(thiefPage.headers.location)).text).toContain("ended on");
      expect((await laptop.get("/dashboard")).status).toBe(200);

      // The same link again: used.
      const again = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: new URL(link, PUBLIC_URL).searchParams.get("t") });
      expect(again.status).toBe(410);
      expect(again.text).toContain("used already");

      const token = /name="t" value="([^"]+)"/.exec(ended.text)![1];
      const weak = await reader
        .post("/settings/sessions/not-me/password")
        .type("form")
        .send({ _csrf: csrfFrom(ended.text), t: token, password: "short" });
      expect(weak.status).toBe(400);
      // The link was taken by the refused attempt: the page carries one of its own for the next.
      const retryToken = /name="t" value="([^"]+)"/.exec(weak.text)![1];
      expect(retryToken).not.toBe(token);
      const done = await reader
        .post("/settings/sessions/not-me/password")
        .type("form")
        .send({ _csrf: csrfFrom(weak.text), t: retryToken, password: "a brand new passphrase" });
      expect(done.status).toBe(200);
      expect(done.text).toContain("every session of your account has ended");
      expect((await laptop.get("/dashboard")).status).toBe(303);
      expect((await signIn(browser(t.app), { email: account.email, password: "a brand new passphrase" })).status).toBe(303);
      const entries = (await t.deps.activity.list((await t.deps.users.findByEmail(account.email))!.id, { limit: 20 })).entries.map((e) => e.type);
      expect(entries).toEqual(expect.arrayContaining(["session_ended", "password_changed"]));
    });
  });

  test.each([
    ["signs in again in the same browser", "again"],
    ["enters the password for an action (a re-authentication)", "reauth"],
  ] as const)("when the intruder %s, then the alert's link still ends the intruder's session", async (_, how) => {
    const clock = testClock();
    await withTestApp(kind, { env: env(), clock }, async (t) => {
      const { account, other: thief, link } = await signedInOnTwo(t);
      if (how === "again") {
        // The sign-in form posted again from the signed-in browser: a new id, no second alert.
        const dashboard = await thief.get("/dashboard");
        const again = await thief
          .post("/login")
          .type("form")
          .send({ _csrf: csrfFrom(dashboard.text), email: account.email, password: account.password });
        expect(again.status).toBe(303);
      } else {
        // Past the re-authentication window, the password entered to end the laptop's session.
        clock.advance(16 * 60 * 1000);
        const page = await thief.get("/settings/sessions");
        const laptopHandle = /action="\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/.exec(page.text)![1];
        const ended = await thief
          .post(`/settings/sessions/${laptopHandle}/revoke`)
          .type("form")
          .send({ _csrf: csrfFrom(page.text), password: account.password });
        expect(ended.status).toBe(303);
      }
      expect((await thief.get("/dashboard")).status).toBe(200);
      const reader = request.agent(t.app);
      const page = await reader.get(link);
      expect(page.text).toContain("Safari on iOS");
      expect(page.text).not.toContain("that session has ended already");
      const ended = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: new URL(link, PUBLIC_URL).searchParams.get("t") });
      expect(ended.status).toBe(200);
      expect((await thief.get("/dashboard")).status).toBe(303);
    });
  });

  test("when the link is opened in the very browser it is about, then the page says so, ends that session, and the password can still be set there", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const { laptop, account, other: phone, link } = await signedInOnTwo(t);

      const page = await phone.get(link);
      expect(page.status).toBe(200);
      expect(page.text).toContain("That is the browser you are using now");
      expect((await laptop.get(link)).text).not.toContain("That is the browser you are using now");
      const ended = await phone
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: new URL(link, PUBLIC_URL).searchParams.get("t") });
      expect(ended.status).toBe(200);
      expect(ended.text).toContain("you are signed out here");
      // The page no longer offers what a signed-in person has.
      expect(ended.text).not.toContain('action="/logout"');
      const done = await phone
        .post("/settings/sessions/not-me/password")
        .type("form")
        .send({ _csrf: csrfFrom(ended.text), t: /name="t" value="([^"]+)"/.exec(ended.text)![1], password: "a brand new passphrase" });
      expect(done.status).toBe(200);
      expect(done.text).toContain("every session of your account has ended");
      expect(done.text).not.toContain('action="/logout"');
      expect((await phone.get("/dashboard")).status).toBe(303);
      expect((await laptop.get("/dashboard")).status).toBe(303);
      expect((await signIn(browser(t.app), { email: account.email, password: "a brand new passphrase" })).status).toBe(303);
    });
  });

  test("when a link is forged, cut or expired, then it says so and ends nothing", async () => {
    await withTestApp(kind, { env: env() }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const link = notMePath((await smtp.nextAbout(account.email, /^New sign-in/)).text ?? "");
      const token = new URL(link, PUBLIC_URL).searchParams.get("t")!;
      const [body, mac] = token.split(".");
      const claims = JSON.parse(Buffer.from(body, "base64url").toString());
      const forged = `${Buffer.from(JSON.stringify({ ...claims, userId: "someone-else" })).toString("base64url")}.${mac}`;
      for (const bad of [forged, body, `${token}x`, "", "[]"]) {
        const res = await request(t.app).get(`/settings/sessions/not-me?t=${encodeURIComponent(bad)}`);
        expect(res.status).toBe(400);
        expect(res.text).toContain("not valid");
      }
      const reader = request.agent(t.app);
      const page = await reader.get(link);
      const posted = await reader
        .post("/settings/sessions/not-me")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), t: ["a", "b"] });
      expect(posted.status).toBe(400);
      expect((await laptop.get("/dashboard")).status).toBe(200);
    });
  });
});

describe("an alert's link over time", () => {
  test("when the link is older than 7 days, then it has expired and ends nothing", async () => {
    const clock = testClock();
    await withTestApp("embedded", { clock, env: { PUBLIC_URL } }, async (t) => {
      const laptop = browser(t.app);
      await signUp(laptop);
      const link = notMePath(t.mails.find((m) => m.subject.startsWith("New sign-in"))!.text);
      expect((await request(t.app).get(link)).status).toBe(200);
      clock.advance(7 * 24 * 3600 * 1000 + 1000);
      const late = await request(t.app).get(link);
      expect(late.status).toBe(410);
      expect(late.text).toContain("expired");
    });
  });
});

describe("mail when the mail server is away", () => {
  test("when SMTP_URL's server does not answer, then the sign-in works and the failure is counted", async () => {
    const metrics = createMetrics();
    await withTestApp("embedded", { env: { SMTP_URL: "smtp://127.0.0.1:9", PUBLIC_URL }, metrics }, async (t) => {
      const laptop = browser(t.app);
      const res = await signUp(laptop, newAccount());
      expect(res.email).toContain("@");
      expect((await laptop.get("/dashboard")).status).toBe(200);
      for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
        if ((await metrics.mail.get()).values.some((v) => v.labels.outcome === "failed" && v.value >= 1)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // The sign-up's mail and the sign-in alert: each failed, and was counted.
      expect((await metrics.mail.get()).values).toEqual(
        expect.arrayContaining([expect.objectContaining({ labels: { outcome: "failed" }, value: expect.any(Number) })]),
      );
    });
  });

  test("without SMTP_URL, each mail is handed to the log with its link", async () => {
    await withTestApp("embedded", {}, async (t) => {
      const account = await signUp(browser(t.app));
      // The sign-up's link, then the first sign-in's alert.
      expect(t.mails.map((m) => [m.to, m.subject])).toEqual([
        [account.email, "Finish creating your account"],
        [account.email, expect.stringMatching(/^New sign-in/)],
      ]);
      expect(t.mails[0].text).toMatch(/http:\/\/127\.0\.0\.1:3000\/signup\/confirm\?t=/);
      expect(t.mails[1].text).toMatch(/http:\/\/127\.0\.0\.1:3000\/settings\/sessions\/not-me\?t=/);
      // The reference site sets passwords from that page: the mail says so.
      expect(t.mails[1].text).toContain("end that session at once (and set a new password) here:");
    });
  });
});
