import request from "supertest";
import { type BackendKind, browser, cookieOf, csrfFrom, newAccount, signedUpCookie, signUp, useTestApp } from "../helpers/app";
import { backendKinds } from "../helpers/topology";

describe.each<BackendKind>(backendKinds())("bad input (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when a POST has no CSRF token or a wrong one, then it answers 403 and changes nothing", async () => {
    const agent = browser(ctx().app);
    await signUp(agent);
    await agent.get("/settings/profile");
    const none = await agent.post("/settings/profile").type("form").send({ name: "Changed" });
    const wrong = await agent
      .post("/settings/profile")
      .type("form")
      .send({ name: "Changed", _csrf: "0".repeat(32) });
    const array = await agent.post("/settings/profile").type("form").send("name=Changed&_csrf=a&_csrf=b");
    for (const res of [none, wrong, array]) {
      expect(res.status).toBe(403);
      expect(res.text).toContain("This form has expired or did not come from this site.");
    }
    const outsider = await request(ctx().app).post("/logout");
    expect(outsider.status).toBe(403);
    expect((await agent.get("/dashboard")).text).toContain("Ada Lovelace");
  });

  test("when a sign-in form's token is missing, another visitor's or made up without the secret, then it answers 403 and signs nobody in", async () => {
    const account = await signUp(browser(ctx().app));
    const fields = { email: account.email, password: account.password };
    const mine = await request(ctx().app).get("/login");
    const theirs = await request(ctx().app).get("/login");
    const cookie = (res: { headers: Record<string, unknown> }) => cookieOf(res, "csrf")!.split(";")[0];
    const [, value] = cookie(mine).split("=");
    // csrf-csrf's token: "<hmac>.<random>".
    const [hmac, random] = decodeURIComponent(value).split(".");
    expect(hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(random).toMatch(/^[0-9a-f]{32}$/);
    const attempts = [
      // No cookie: the token alone, as a forged cross-site form would send it.
      request(ctx().app)
        .post("/login")
        .type("form")
        .send({ _csrf: csrfFrom(mine.text), ...fields }),
      // A cookie and no token.
      request(ctx().app).post("/login").set("Cookie", cookie(mine)).type("form").send(fields),
      // Another visitor's token with this visitor's cookie.
      request(ctx().app)
        .post("/login")
        .set("Cookie", cookie(mine))
        .type("form")
        .send({ _csrf: csrfFrom(theirs.text), ...fields }),
      // A pair made up without the secret.
      request(ctx().app)
        .post("/login")
        .set("Cookie", `csrf=${"0".repeat(64)}.${random}`)
        .type("form")
        .send({ _csrf: `${"0".repeat(64)}.${random}`, ...fields }),
      // The same pair with its halves swapped around.
      request(ctx().app)
        .post("/login")
        .set("Cookie", `csrf=${random}.${hmac}`)
        .type("form")
        .send({ _csrf: `${random}.${hmac}`, ...fields }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.text).toContain("This form has expired or did not come from this site.");
      expect(cookieOf(res)).toBeUndefined();
    }
    const right = await request(ctx().app)
      .post("/login")
      .set("Cookie", cookie(mine))
      .type("form")
      .send({ _csrf: csrfFrom(mine.text), ...fields });
    expect(right.status).toBe(303);
  });

  test("when a field arrives as an array or an object, then the form answers 400 with a message", async () => {
    const agent = browser(ctx().app);
    const page = await agent.get("/signup");
    const token = csrfFrom(page.text);
    const arrays = await agent.post("/signup").type("form").send(`_csrf=${token}&name=a&name=b&email=x%40example.com&password=long+enough+pw`);
    expect(arrays.status).toBe(400);
    expect(arrays.text).toContain("Name must be a single line of text.");
    const nested = await agent.post("/signup").type("form").send(`_csrf=${token}&name[first]=a&email=y%40example.com&password=long+enough+pw`);
    expect(nested.status).toBe(400);
  });

  test("when fields are oversized, then the answer is 400 or 413 with a page, never a 500", async () => {
    const agent = browser(ctx().app);
    const page = await agent.get("/signup");
    const token = csrfFrom(page.text);
    const big = await agent
      .post("/signup")
      .type("form")
      .send({ _csrf: token, name: "n".repeat(5000), email: "big@example.com", password: "p".repeat(300) });
    expect(big.status).toBe(400);
    expect(big.text).toContain("Name must be at most 100 characters.");
    expect(big.text).toContain("Password must be at most 256 characters.");
    const huge = await agent
      .post("/signup")
      .type("form")
      .send({ _csrf: token, name: "n".repeat(100_000) });
    expect(huge.status).toBe(413);
    expect(huge.text).toContain("more data than this site accepts");
  });

  test("when a form carries __proto__ and constructor keys, then they are ignored", async () => {
    const agent = browser(ctx().app);
    const page = await agent.get("/signup");
    const account = newAccount();
    const res = await agent
      .post("/signup")
      .type("form")
      .send(
        `_csrf=${csrfFrom(page.text)}&__proto__[role]=admin&constructor[prototype][role]=admin&role=admin&name=${encodeURIComponent(account.name)}&email=${encodeURIComponent(account.email)}&password=${encodeURIComponent(account.password)}`,
      );
    expect(res.status).toBe(303);
    const user = await ctx().deps.users.findByEmail(account.email);
    expect(user?.role).toBe("user");
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });

  test.each([
    ["garbage", "sid=garbage"],
    ["unsigned id", "sid=abcdefghijklmnopqrstuvwxyz012345"],
    ["forged signature", "sid=s%3Aabcdefghijklmnopqrstuvwx.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["broken encoding", "sid=%E0%A4%A"],
    ["huge", `sid=${"a".repeat(4000)}`],
  ])("when the cookie is %s, then the visitor is treated as signed out", async (_label, cookie) => {
    const res = await request(ctx().app).get("/dashboard").set("Cookie", cookie);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?next=%2Fdashboard");
  });

  test("when a name or a user agent holds markup, then pages show it escaped", async () => {
    const evilAgent = '<script>alert("ua")</script><img src=x onerror=alert(1)>';
    const agent = browser(ctx().app, evilAgent);
    await signUp(agent, newAccount('<script>alert("name")</script>'));
    const dash = await agent.get("/dashboard");
    expect(dash.text).not.toContain('<script>alert("name")</script>');
    expect(dash.text).toContain("&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;");
    const sessions = await agent.get("/settings/sessions");
    expect(sessions.status).toBe(200);
    expect(sessions.text).not.toContain("<script>");
    expect(sessions.text).not.toContain("<img");
  });

  test("when the user agent is enormous, then it is stored cut to a bound", async () => {
    const agent = browser(ctx().app, `Mozilla/5.0 ${"x".repeat(5000)}`);
    const account = await signUp(agent);
    const user = (await ctx().deps.users.findByEmail(account.email))!;
    const [row] = await ctx().deps.sessions.listUserSessions(user.id);
    expect(row.userAgent.length).toBe(512);
  });

  test("when requests are logged, then each line has the user id and session handle and never the cookie value", async () => {
    const agent = browser(ctx().app);
    const cookieValue = decodeURIComponent((await signedUpCookie(agent)).slice(4));
    const sid = cookieValue.slice(2, cookieValue.indexOf("."));
    await agent.get("/dashboard");
    const lines = ctx().logs.map((l) => JSON.parse(l));
    const dash = lines.filter((l) => l.url === "/dashboard" && l.userId).pop();
    expect(dash).toMatchObject({ userId: expect.any(String), session: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    const all = ctx().logs.join("\n");
    expect(all).not.toContain(sid);
    expect(all).not.toContain(encodeURIComponent(cookieValue));
  });

  test("when a page does not exist, then a friendly 404 page answers", async () => {
    const res = await request(ctx().app).get("/no/such/page");
    expect(res.status).toBe(404);
    expect(res.text).toContain("There is nothing at this address.");
  });

  test("when the health endpoints are asked, then both answer 200 while the store answers", async () => {
    expect((await request(ctx().app).get("/healthz")).status).toBe(200);
    expect((await request(ctx().app).get("/readyz")).status).toBe(200);
  });
});
