import { browser, createTestApp, SAFARI_IPHONE, signIn, signUp, type TestApp } from "../helpers/app";

// Known addresses in the GeoLite2 City data shipped with the server (MaxMind's own test
// address, and a public resolver whose data names a country only).
const BRACKNELL = "81.2.69.160";
const COUNTRY_ONLY = "8.8.8.8";
// A public IPv6 address the data has nothing for.
const NOWHERE_KNOWN = "2c0f:ffff::1";

describe("approximate location of each session", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("embedded", { env: { TRUST_PROXY: "1" } });
  });
  afterAll(() => t.close());

  test("when sessions come from public addresses, then the sessions page, the API and the activity name the place; a loopback address names none", async () => {
    const laptop = browser(t.app).set("X-Forwarded-For", BRACKNELL);
    const account = await signUp(laptop);
    await signIn(browser(t.app, SAFARI_IPHONE).set("X-Forwarded-For", COUNTRY_ONLY), account);
    await signIn(browser(t.app, SAFARI_IPHONE), account);
    await signIn(browser(t.app).set("X-Forwarded-For", NOWHERE_KNOWN), account);

    const page = (await laptop.get("/settings/sessions")).text;
    expect(page).toContain('<span class="location">Bracknell, United Kingdom</span>');
    expect(page).toContain('<span class="location">United States</span>');
    expect(page).toContain('<span class="location">Unknown location</span>');
    const api = (await laptop.get("/api/sessions")).body.sessions as Array<{ ip: string; location: string | null }>;
    expect(Object.fromEntries(api.map((s) => [s.ip, s.location]))).toEqual({
      [BRACKNELL]: "Bracknell, United Kingdom",
      [COUNTRY_ONLY]: "United States",
      [NOWHERE_KNOWN]: "Unknown location",
      "127.0.0.1": null,
    });
    expect((await laptop.get("/settings/activity")).text).toContain(`${BRACKNELL}, Bracknell, United Kingdom`);
  });
});
