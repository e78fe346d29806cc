import request from "supertest";
import { PasswordHasher } from "../../src/site/users/password";
import {
  type Agent,
  appWith,
  type BackendKind,
  browser,
  cookieOf,
  createTestApp,
  csrfFrom,
  newAccount,
  SAFARI_IPHONE,
  signIn,
  signUp,
  submit,
  type TestApp,
  withTestApp,
} from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

async function signOut(agent: ReturnType<typeof browser>) {
  expect((await submit(agent, "/dashboard", "/logout", {})).status).toBe(303);
}

/** Each browser loads the sign-in form, then all post it at once: `password(i)` for the i-th. */
async function signInAtOnce(agents: Agent[], email: string, password: (i: number) => string) {
  const forms = await Promise.all(agents.map((a) => a.get("/login")));
  return Promise.all(
    agents.map((a, i) =>
      a
        .post("/login")
        .type("form")
        .send({ _csrf: csrfFrom(forms[i].text), email, password: password(i) }),
    ),
  );
}

describe.each<BackendKind>(backendKinds())("password throttling (%s)", (kind) => {
  test("when an account gets too many wrong passwords from unknown devices, then they get 429 with Retry-After, but its owner's device still signs in", async () => {
    const t = await createTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "3" } });
    try {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      await signOut(laptop);
      for (let i = 0; i < 3; i++) expect((await signIn(browser(t.app), { ...account, password: `wrong ${i} password` })).status).toBe(422);
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
      for (let i = 0; i < 3; i++) expect((await signIn(laptop, { ...account, password: `wrong ${i} password` })).status).toBe(422);
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
      for (let i = 0; i < 2; i++) expect((await signIn(attacker, { ...victim, password: `wrong ${i} password` })).status).toBe(422);
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
      for (let i = 0; i < 4; i++) expect((await signIn(browser(t.app), newAccount())).status).toBe(422);
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
    const clock = testClock();
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1" }, clock });
    try {
      const phone = browser(t.app, SAFARI_IPHONE);
      const account = await signUp(phone);
      const thief = browser(t.app);
      await signIn(thief, account);
      // Past the re-authentication window.
      clock.advance(1100);
      for (let i = 1; i <= 4; i++) {
        const res = await submit(thief, "/settings/sessions", "/settings/sessions/revoke-others", { password: `guess ${i} password` });
        expect(res.status).toBe(422);
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
    const clock = testClock();
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1" }, clock });
    try {
      const agent = browser(t.app);
      await signUp(agent);
      // Past the re-authentication window.
      clock.advance(1100);
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
    const clock = testClock();
    const t = await createTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1", SIGNIN_LIMIT_PER_ACCOUNT: "2" }, clock });
    try {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      const phone = browser(t.app, SAFARI_IPHONE);
      await signIn(phone, account);
      // Past the re-authentication window.
      clock.advance(1100);
      for (let i = 0; i < 2; i++) {
        expect((await submit(laptop, "/settings/sessions", "/settings/sessions/revoke-others", { password: `wrong ${i} password` })).status).toBe(422);
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
  const failures = async (t: TestApp, email: string, type: string) => {
    const userId = (await t.deps.users.findByEmail(email))!.id;
    return (await t.deps.activity.list(userId, { limit: 200 })).entries.filter((e) => e.type === type).length;
  };

  test("when 34 wrong passwords arrive at once with a limit of 10, then exactly 10 are checked and the rest answer 429", async () => {
    await withTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "10", TRUST_PROXY: "loopback" } }, async (t) => {
      const account = await signUp(browser(t.app));
      // From 34 addresses, as a guesser with many would.
      const agents = Array.from({ length: 34 }, (_, i) => browser(t.app).set("X-Forwarded-For", `203.0.113.${i + 1}`));
      const answers = await signInAtOnce(agents, account.email, (i) => `wrong ${i} password`);
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 422)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(24);
      expect(await failures(t, account.email, "sign_in_failed")).toBe(10);
    });
  });

  test("when a stolen cookie sends 20 re-authentications at once, then at most 5 passwords are checked and the session is signed out", async () => {
    const clock = testClock();
    await withTestApp(kind, { env: { SESSION_REAUTH_WINDOW: "1", TRUST_PROXY: "loopback" }, clock }, async (t) => {
      const phone = browser(t.app, SAFARI_IPHONE);
      const account = await signUp(phone);
      const thief = browser(t.app);
      await signIn(thief, account);
      // Past the re-authentication window.
      clock.advance(1100);
      const token = csrfFrom((await thief.get("/settings/sessions")).text);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          thief
            .post("/settings/sessions/revoke-others")
            .set("X-Forwarded-For", `203.0.113.${i + 1}`)
            .type("form")
            .send({ _csrf: token, password: `guess ${i} password` }),
        ),
      );
      // Wrong (422), signed out (303 to sign in), or, once the session is gone, refused by CSRF (403): none acted.
      const outcomes = answers.map((r) => (r.status === 303 ? r.headers.location : r.status));
      expect(outcomes.filter((o) => ![422, 403, "/login"].includes(o))).toEqual([]);
      expect(outcomes).toContain("/login");
      expect(await failures(t, account.email, "password_check_failed")).toBeLessThanOrEqual(5);
      expect(await failures(t, account.email, "signed_out_wrong_passwords")).toBe(1);
      expect((await thief.get("/dashboard")).status).toBe(303);
      expect((await phone.get("/dashboard")).status).toBe(200);
    });
  });

  test("when device cookies were saved before a password change, then after it they count as unknown devices, on the account's one budget", async () => {
    await withTestApp(kind, { env: { SIGNIN_LIMIT_PER_ACCOUNT: "3" } }, async (t) => {
      const owner = browser(t.app);
      const account = await signUp(owner);
      const saved = Array.from({ length: 5 }, () => browser(t.app));
      for (const device of saved) {
        await signIn(device, account);
        await signOut(device);
      }
      await submit(owner, "/settings/password", "/settings/password", { current_password: account.password, new_password: "an entirely new passphrase" });
      const statuses = [];
      for (const [i, device] of saved.entries()) statuses.push((await signIn(device, { ...account, password: `old guess ${i} password` })).status);
      expect(statuses).toEqual([422, 422, 422, 429, 429]);
      // The device the password was changed on is known under the new one: the budget spent on the account does not hold it back.
      await signOut(owner);
      expect((await signIn(owner, { ...account, password: "an entirely new passphrase" })).status).toBe(303);
      expect((await signIn(saved[0], { ...account, password: "an entirely new passphrase" })).status).toBe(429);
    });
  });

  test("when wrong passwords come from many addresses of one IPv6 /64, then they share one address budget", async () => {
    await withTestApp(kind, { env: { SIGNIN_LIMIT_PER_IP: "3", TRUST_PROXY: "loopback" } }, async (t) => {
      const statuses = [];
      for (let i = 1; i <= 5; i++) {
        const agent = browser(t.app).set("X-Forwarded-For", `2001:db8:5:6::${i.toString(16)}`);
        statuses.push((await signIn(agent, newAccount())).status);
      }
      expect(statuses).toEqual([422, 422, 422, 429, 429]);
      const elsewhere = browser(t.app).set("X-Forwarded-For", "2001:db8:5:7::1");
      expect((await signIn(elsewhere, newAccount())).status).toBe(422);
    });
  });

  test("when an address is held back for wrong passwords, then a known device behind it still signs in", async () => {
    await withTestApp(kind, { env: { SIGNIN_LIMIT_PER_IP: "3" } }, async (t) => {
      const laptop = browser(t.app);
      const account = await signUp(laptop);
      await signOut(laptop);
      for (let i = 0; i < 3; i++) expect((await signIn(browser(t.app), newAccount())).status).toBe(422);
      expect((await signIn(browser(t.app), account)).status).toBe(429);
      expect((await signIn(laptop, account)).status).toBe(303);
    });
  });

  test("when one address signs in again and again with a right password, then its budget of checks runs out; the account's own devices and other addresses are not affected", async () => {
    // The account's budget of five: the password entered to finish its sign-up is the first check.
    await withTestApp(kind, { env: { SIGNIN_CHECKS_PER_IP: "3", SIGNIN_CHECKS_PER_ACCOUNT: "5", TRUST_PROXY: "loopback" } }, async (t) => {
      const home = browser(t.app).set("X-Forwarded-For", "198.51.100.20");
      const account = await signUp(home);
      await signOut(home);
      const from = (ip: string) => browser(t.app).set("X-Forwarded-For", ip);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await signIn(from("203.0.113.5"), account)).status);
      expect(statuses).toEqual([303, 303, 303, 429]);
      const held = await signIn(from("203.0.113.5"), account);
      expect(held.text).toContain("Too many sign-in attempts from your network.");
      // The account's budget: one more from elsewhere, then held, but not its known device.
      expect((await signIn(from("192.0.2.7"), account)).status).toBe(303);
      const account429 = await signIn(from("192.0.2.8"), account);
      expect(account429.status).toBe(429);
      expect(account429.text).toContain("Too many sign-in attempts on this account.");
      expect((await signIn(home, account)).status).toBe(303);
    });
  });
});

describe("password hashing under load", () => {
  test("when one address floods the hashing queue with right passwords, then people at other addresses still sign in", async () => {
    const t = await createTestApp("embedded", { env: { TRUST_PROXY: "loopback" } });
    try {
      const flooder = await signUp(browser(t.app));
      const other = await signUp(browser(t.app));
      // One hash at a time and eight waiting; a cost high enough for the sign-ins to overlap.
      const app = appWith({ ...t.deps, passwords: new PasswordHasher({ logN: 14, r: 8, p: 1 }, { concurrent: 1, queued: 8 }) });
      const from = (ip: string) => browser(app).set("X-Forwarded-For", ip);
      const flood = Array.from({ length: 40 }, () => from("203.0.113.66"));
      const flooding = signInAtOnce(flood, flooder.email, () => flooder.password);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await signIn(from(`198.51.100.${i + 1}`), other)).status);
      const flooded = (await flooding).map((r) => r.status);
      expect(statuses).toEqual([303, 303, 303]);
      expect(flooded.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30);
      expect(flooded).not.toContain(503);
    } finally {
      await t.close();
    }
  });

  test("when more sign-ins arrive than the hashing queue holds, then the extra ones answer 503 with Retry-After at once", async () => {
    const t = await createTestApp("embedded");
    try {
      const account = await signUp(browser(t.app));
      // One hash at a time and none waiting; a cost high enough for the sign-ins to overlap.
      const app = appWith({ ...t.deps, passwords: new PasswordHasher({ logN: 15, r: 8, p: 1 }, { concurrent: 1, queued: 0 }) });
      const agents = Array.from({ length: 4 }, () => browser(app));
      const answers = await signInAtOnce(agents, account.email, () => account.password);
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
