import request from "supertest";
import { browser, csrfFrom, signIn, signUp, submit, useTestApp } from "../helpers/app";

/** The reset link of the last mail to `to`, as a path. */
function resetPath(mails: { to: string; text: string }[], to: string): string {
  const mail = mails.filter((m) => m.to === to).at(-1);
  const m = mail && /http:\/\/127\.0\.0\.1:3000(\/password\/reset\?t=[A-Za-z0-9_.-]+)/.exec(mail.text);
  if (!m) throw new Error(`no reset link to ${to}`);
  return m[1];
}

describe.each(["embedded", "redis"] as const)("forgot password (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when a reset is asked for, then the answer is the same for any address, and only an account's address gets a link", async () => {
    const t = ctx();
    const account = await signUp(browser(t.app));
    for (const address of [account.email, `nobody-${Date.now()}@example.com`]) {
      const agent = request.agent(t.app);
      const res = await submit(agent, "/password/forgot", "/password/forgot", { email: address });
      expect(res.status).toBe(200);
      expect(res.text).toContain("If an account uses that address");
    }
    expect(t.mails.filter((m) => m.subject === "Set a new password").map((m) => m.to)).toEqual([account.email]);
  });

  test("when the link is followed, then a new password ends every session, and the link works once", async () => {
    const t = ctx();
    const laptop = browser(t.app);
    const account = await signUp(laptop);
    const agent = request.agent(t.app);
    await submit(agent, "/password/forgot", "/password/forgot", { email: account.email });
    const link = resetPath(t.mails, account.email);
    const page = await agent.get(link);
    expect(page.status).toBe(200);
    const token = new URL(link, "http://x").searchParams.get("t")!;
    const weak = await agent
      .post("/password/reset")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), t: token, password: "password" });
    expect(weak.status).toBe(400);
    expect((await laptop.get("/dashboard")).status).toBe(200);
    const done = await agent
      .post("/password/reset")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), t: token, password: "a brand new passphrase" });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/login");
    expect((await agent.get("/login")).text).toContain("Sign in with the new password");
    expect((await laptop.get("/dashboard")).status).toBe(303);
    expect((await signIn(browser(t.app), { email: account.email, password: "a brand new passphrase" })).status).toBe(303);
    expect((await agent.get(link)).status).toBe(410);
    const again = await agent
      .post("/password/reset")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), t: token, password: "another new passphrase" });
    expect(again.status).toBe(410);
  });

  test("when the password changed after the link was sent, or the link is forged, then it no longer works", async () => {
    const t = ctx();
    const account = await signUp(browser(t.app));
    const agent = request.agent(t.app);
    await submit(agent, "/password/forgot", "/password/forgot", { email: account.email });
    await submit(agent, "/password/forgot", "/password/forgot", { email: account.email });
    const [older, newer] = t.mails.filter((m) => m.to === account.email && m.subject === "Set a new password").map((m) => resetPath([m], account.email));
    const page = await agent.get(newer);
    await agent
      .post("/password/reset")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), t: new URL(newer, "http://x").searchParams.get("t"), password: "a brand new passphrase" });
    expect((await agent.get(older)).status).toBe(410);
    expect((await agent.get("/password/reset?t=forged.token")).status).toBe(410);
    expect((await agent.get("/password/reset?t[]=a")).status).toBe(410);
  });
});
