import request from "supertest";
import { createApp } from "../../src/app";
import { PasswordHasher } from "../../src/users/password";
import { type BackendKind, browser, cookieOf, createTestApp, csrfFrom, newAccount, SAFARI_IPHONE, signIn, signUp, submit } from "../helpers/app";
import { sleep } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

async function signOut(agent: ReturnType<typeof browser>) {
  expect((await submit(agent, "/dashboard", "/logout", {})).status).toBe(303);
}

describe.each<BackendKind>(backendKinds())("password throttling (%s)", (kind) => {
  test("when an account gets too many wrong passwords from unknown devices, then they get 429 with Retry-After, but its owner's device still signs in", async () => {
    const t = await createTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "3" } });
    try {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      await signOut(laptop);
      for (let i = 0; i < 3; i++) expect((await signIn(browser(t.app), { ...account, password: `wrong ${i} password` })).status).toBe(401);
      const stranger = await signIn(browser(t.app), { email: account.email.toUpperCase(), password: account.password });
      expect(stranger.status).toBe(429);
      expect(Number(stranger.headers["retry-after"])).toBeGreaterThan(0);
      expect(stranger.text).toContain("Too many wrong passwords on this account.");
      // The device the owner signed up on carries a device cookie: failures elsewhere do not lock it out.
      expect((await signIn(laptop, account)).status).toBe(303);
      expect((await laptop.get("/dashboard")).status).toBe(200);
      // Another account is not affected.
      expect((await signIn(browser(t.app), await signUp(browser(t.app)))).status).toBe(303);
    } finally {
      await t.close();
    }
  });

  test("when a known device enters too many wrong passwords, then that device is held back and the account is not", async () => {
    const t = await createTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "3" } });
    try {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      await signOut(laptop);
      for (let i = 0; i < 3; i++) expect((await signIn(laptop, { ...account, password: `wrong ${i} password` })).status).toBe(401);
      const held = await signIn(laptop, account);
      expect(held.status).toBe(429);
      expect(held.text).toContain("Too many wrong passwords from this device.");
      expect((await signIn(browser(t.app), account)).status).toBe(303);
    } finally {
      await t.close();
    }
  });

  test("when a forged or another account's device cookie comes with a sign-in, then it counts as an unknown device", async () => {
    const t = await createTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "2" } });
    try {
      const victim = await signUp(browser(t.app));
      const attacker = browser(t.app);
      await signUp(attacker); // a device cookie, but for the attacker's own account
      await signOut(attacker);
      for (let i = 0; i < 2; i++) expect((await signIn(attacker, { ...victim, password: `wrong ${i} password` })).status).toBe(401);
      expect((await signIn(attacker, { ...victim, password: "wrong again password" })).status).toBe(429);
      const form = await request(t.app).get("/login");
      const csrf = cookieOf(form, "csrf")!.split(";")[0];
      const forged = await request(t.app)
        .post("/login")
        .set("Cookie", `${csrf}; device=${"A".repeat(16)}.${"B".repeat(22)}`)
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email: victim.email, password: victim.password });
      expect(forged.status).toBe(429);
    } finally {
      await t.close();
    }
  });

  test("when many people behind one address sign in correctly, then none is held back; wrong passwords from it are", async () => {
    const t = await createTestApp(kind, { env: { SIGNIN_LIMIT_PER_IP: "4" } });
    try {
      const accounts = [];
      for (let i = 0; i < 6; i++) accounts.push(await signUp(browser(t.app)));
      for (const account of accounts) expect((await signIn(browser(t.app), account)).status).toBe(303);
      for (let i = 0; i < 4; i++) expect((await signIn(browser(t.app), newAccount())).status).toBe(401);
      const res = await signIn(browser(t.app), accounts[0]);
      expect(res.status).toBe(429);
      expect(res.headers["retry-after"]).toBeDefined();
      expect(res.text).toContain("Too many wrong passwords from your network.");
    } finally {
      await t.close();
    }
  });

  test("when one address creates too many accounts, then sign-up answers 429 and sign-in is not affected", async () => {
    const t = await createTestApp(kind, { env: { SIGNUP_LIMIT_PER_IP: "2" } });
    try {
      const first = await signUp(browser(t.app));
      await signUp(browser(t.app));
      const third = await submit(browser(t.app), "/signup", "/signup", newAccount());
      expect(third.status).toBe(429);
      expect(Number(third.headers["retry-after"])).toBeGreaterThan(0);
      expect(third.text).toContain("Too many accounts were created from your network.");
      expect((await signIn(browser(t.app), first)).status).toBe(303);
    } finally {
      await t.close();
    }
  });

  test("when a stolen session guesses the password to end sessions, then each try is logged and the fifth wrong one signs it out", async () => {
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1" } });
    try {
      const phone = browser(t.app, SAFARI_IPHONE);
      const account = await signUp(phone);
      const thief = browser(t.app);
      await signIn(thief, account);
      await sleep(1100);
      for (let i = 1; i <= 4; i++) {
        const res = await submit(thief, "/settings/sessions", "/settings/sessions/revoke-others", { password: `guess ${i} password` });
        expect(res.status).toBe(401);
        expect(res.text).toContain("That password is not correct.");
      }
      const fifth = await submit(thief, "/settings/sessions", "/settings/sessions/revoke-others", { password: "guess 5 password" });
      expect(fifth.status).toBe(303);
      expect(fifth.headers.location).toBe("/login");
      expect((await thief.get("/login")).text).toContain("You were signed out after 5 wrong passwords.");
      expect((await thief.get("/dashboard")).status).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(200);
      const log = (await phone.get("/settings/activity")).text;
      expect(log.match(/Wrong password entered to confirm an action/g)).toHaveLength(5);
      expect(log).toContain("Signed out after 5 wrong passwords");
    } finally {
      await t.close();
    }
  });

  test("when a script guesses the password through the API, then it gets 403 four times and 401 signed_out the fifth", async () => {
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1" } });
    try {
      const agent = browser(t.app);
      await signUp(agent);
      await sleep(1100);
      const token = (await agent.get("/api/me")).body.csrfToken as string;
      const statuses = [];
      for (let i = 1; i <= 5; i++) {
        const res = await agent
          .post("/api/sessions/revoke-others")
          .set("X-CSRF-Token", token)
          .send({ password: `guess ${i} password` });
        statuses.push(`${res.status} ${res.body.error}`);
      }
      expect(statuses).toEqual([...Array(4).fill("403 reauth_required"), "401 signed_out"]);
      expect((await agent.get("/api/me")).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  test("when re-authentication fails past the limit, then the sessions page, the password form and the API answer 429 with Retry-After", async () => {
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1", SIGNIN_LIMIT_PER_ACCOUNT: "2" } });
    try {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const phone = browser(t.app, SAFARI_IPHONE);
      await signIn(phone, account);
      await sleep(1100);
      for (let i = 0; i < 2; i++) {
        expect((await submit(laptop, "/settings/sessions", "/settings/sessions/revoke-others", { password: `wrong ${i} password` })).status).toBe(401);
      }
      const page = await submit(laptop, "/settings/sessions", "/settings/sessions/revoke-others", { password: account.password });
      expect(page.status).toBe(429);
      expect(Number(page.headers["retry-after"])).toBeGreaterThan(0);
      expect(page.text).toContain("Too many wrong passwords from this device.");
      const change = await submit(laptop, "/settings/password", "/settings/password", {
        current_password: account.password,
        new_password: "a brand new passphrase",
      });
      expect(change.status).toBe(429);
      const me = await laptop.get("/api/me");
      const api = await laptop.post("/api/sessions/revoke-others").set("X-CSRF-Token", me.body.csrfToken).send({ password: account.password });
      expect(api.status).toBe(429);
      expect(api.body).toMatchObject({ error: "rate_limited" });
      expect(Number(api.headers["retry-after"])).toBeGreaterThan(0);
      expect((await phone.get("/dashboard")).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe("password hashing under load", () => {
  test("when more sign-ins arrive than the hashing queue holds, then the extra ones answer 503 with Retry-After at once", async () => {
    const t = await createTestApp("embedded");
    try {
      const account = await signUp(browser(t.app));
      // One hash at a time and none waiting; a cost high enough for the sign-ins to overlap.
      const app = createApp({ ...t.deps, passwords: new PasswordHasher({ logN: 15, r: 8, p: 1 }, { concurrent: 1, queued: 0 }) });
      const agents = Array.from({ length: 4 }, () => browser(app));
      const pages = await Promise.all(agents.map((a) => a.get("/login")));
      const answers = await Promise.all(
        agents.map((a, i) =>
          a
            .post("/login")
            .type("form")
            .send({ _csrf: csrfFrom(pages[i].text), email: account.email, password: account.password }),
        ),
      );
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toContain(303);
      expect(statuses).toContain(503);
      const busy = answers.find((r) => r.status === 503)!;
      expect(busy.headers["retry-after"]).toBeDefined();
      expect(busy.text).toContain("Too many sign-ins are being checked right now.");
      expect(cookieOf(busy)).toBeUndefined();
      // Once the burst is over, sign-in works again.
      expect((await signIn(browser(app), account)).status).toBe(303);
    } finally {
      await t.close();
    }
  });

  test("when the hashing queue is full, then a check is refused without waiting, and the queue drains in order", async () => {
    const hasher = new PasswordHasher({ logN: 12, r: 8, p: 1 }, { concurrent: 1, queued: 1 });
    const hash = await hasher.hash("pw-pw-pw-pw");
    const results = await Promise.allSettled([hasher.verify("pw-pw-pw-pw", hash), hasher.verify("nope-nope", hash), hasher.verify("pw-pw-pw-pw", hash)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect(results.slice(0, 2).map((r) => (r as PromiseFulfilledResult<boolean>).value)).toEqual([true, false]);
    expect(await hasher.verify("pw-pw-pw-pw", hash)).toBe(true);
  });
});
