import request from "supertest";
import { openBackend } from "../../src/backend";
import type { Config } from "../../src/config";
import { SAFARI_IPHONE, appOn, browser, csrfFrom, newAccount, signIn, signUp, submit } from "../helpers/app";

/** Two devices through the product on a configured topology: sign in, list, rename, revoke. */
export async function twoDeviceJourney(config: Config): Promise<void> {
  const backend = await openBackend(config);
  const app = appOn(config, backend);
  try {
    expect((await request(app).get("/readyz")).status).toBe(200);
    const account = newAccount("Topology Tess");
    const laptop = browser(app);
    await signUp(laptop, account);
    const phone = browser(app, SAFARI_IPHONE);
    expect((await signIn(phone, account)).status).toBe(303);
    const page = await laptop.get("/settings/sessions");
    expect(page.text).toContain("Mobile Safari on iOS");
    expect((await submit(laptop, "/settings/profile", "/settings/profile", { name: "Tess T." })).status).toBe(303);
    expect((await phone.get("/dashboard")).text).toContain("Tess T.");
    const handle = /\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke/.exec(page.text)![1];
    expect((await laptop.post(`/settings/sessions/${handle}/revoke`).type("form").send({ _csrf: csrfFrom(page.text) })).status).toBe(303);
    expect((await phone.get("/dashboard")).status).toBe(303);
    expect((await laptop.get("/settings/activity")).text).toContain("Session on Mobile Safari on iOS ended");
    expect((await signIn(browser(app), { ...account, password: "wrong password" })).status).toBe(401);
    expect((await laptop.get("/api/sessions")).body.sessions).toHaveLength(1);
  } finally {
    await backend.close();
  }
}
