import { type Agent, browser, csrfFrom, newAccount, signUp, withTestApp } from "../helpers/app";

/**
 * A form's redirect as a text browser follows it: absolute, from PUBLIC_URL, for a request to
 * the site's own host (by Host, or by a trusted proxy's X-Forwarded-Host), and never naming a
 * host a request chose; a form's result on its own page at a fresh address.
 */

const SITE = "https://sessions.example";

/** Signs in with these request headers on every request (the browser's Host, a proxy's). */
async function signInWith(agent: Agent, account: { email: string; password: string }, headers: Record<string, string>) {
  const page = await agent.get("/login").set(headers);
  return agent
    .post("/login")
    .set(headers)
    .type("form")
    .send({ _csrf: csrfFrom(page.text), email: account.email, password: account.password });
}

describe("redirects a text browser follows at once", () => {
  test("when a form is sent to the site's own host, then its 303 names the page by PUBLIC_URL's absolute address", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL: SITE } }, async (t) => {
      const account = await signUp(browser(t.app), newAccount());
      const res = await signInWith(browser(t.app), account, { Host: "sessions.example" });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`${SITE}/dashboard`);
      // The package's own pages too: a signed-out visitor sent to sign in.
      const away = await browser(t.app).get("/settings/sessions").set("Host", "SESSIONS.example:443");
      expect(away.headers.location).toBe(`${SITE}/login?next=%2Fsettings%2Fsessions`);
    });
  });

  test("when the Host names another site, then the redirect stays a path and names no host", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL: SITE } }, async (t) => {
      const account = await signUp(browser(t.app), newAccount());
      for (const host of ["evil.example", "sessions.example.evil.example", "evil.example@sessions.example"]) {
        const res = await signInWith(browser(t.app), account, { Host: host });
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe("/dashboard");
      }
    });
  });

  test("when X-Forwarded-Host comes from a trusted proxy, then it decides; from anyone else, it is ignored", async () => {
    const account = newAccount();
    await withTestApp("embedded", { env: { PUBLIC_URL: SITE, TRUST_PROXY: "loopback" } }, async (t) => {
      await signUp(browser(t.app), account);
      const proxied = await signInWith(browser(t.app), account, { Host: "127.0.0.1:3000", "X-Forwarded-Host": "sessions.example" });
      expect(proxied.headers.location).toBe(`${SITE}/dashboard`);
      const elsewhere = await signInWith(browser(t.app), account, { Host: "sessions.example", "X-Forwarded-Host": "evil.example" });
      expect(elsewhere.headers.location).toBe("/dashboard");
    });
    await withTestApp("embedded", { env: { PUBLIC_URL: SITE } }, async (t) => {
      await signUp(browser(t.app), account);
      const untrusted = await signInWith(browser(t.app), account, { Host: "evil.example", "X-Forwarded-Host": "sessions.example" });
      expect(untrusted.headers.location).toBe("/dashboard");
    });
  });

  test("when a form's result is the page it was sent from, then each answer names a fresh address of that page, which shows as the page", async () => {
    await withTestApp("embedded", { env: { PUBLIC_URL: SITE } }, async (t) => {
      const agent = browser(t.app);
      await signUp(agent, newAccount());
      const from = { Host: "sessions.example", Referer: `${SITE}/settings/sessions` };
      const rename = async () => {
        const page = await agent.get("/settings/sessions").set(from);
        const handle = /action="\/settings\/sessions\/([^/"]+)\/name"/.exec(page.text)![1];
        return agent
          .post(`/settings/sessions/${handle}/name`)
          .set(from)
          .type("form")
          .send({ _csrf: csrfFrom(page.text), name: "Desk" });
      };
      const fresh = /^https:\/\/sessions\.example\/settings\/sessions\?done\.[0-9a-f]{8}$/;
      const first = await rename();
      expect(first.headers.location).toMatch(fresh);
      const shown = await agent.get(new URL(first.headers.location).pathname + new URL(first.headers.location).search);
      expect(shown.status).toBe(200);
      expect(shown.text).toContain("Named it &#34;Desk&#34;.");
      const second = await rename();
      expect(second.headers.location).toMatch(fresh);
      expect(second.headers.location).not.toBe(first.headers.location);
      // From another page (or a browser that sends no Referer), the page's own address.
      const page = await agent.get("/settings/sessions");
      const handle = /action="\/settings\/sessions\/([^/"]+)\/name"/.exec(page.text)![1];
      const plain = await agent
        .post(`/settings/sessions/${handle}/name`)
        .set("Host", "sessions.example")
        .type("form")
        .send({ _csrf: csrfFrom(page.text), name: "Desk" });
      expect(plain.headers.location).toBe(`${SITE}/settings/sessions`);
    });
  });
});
