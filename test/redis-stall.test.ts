import { loadConfig } from "../src/package/config";
import { connectRedis } from "../src/package/redis/connect";
import { STALL_CHECK_MS, STALL_TIMEOUT_MS } from "../src/package/redis/stall-watch";
import { openBackend } from "../src/site/backend";
import { appOn, browser, quietMail, SAFARI_IPHONE, signIn, signUp, testPasswords } from "./helpers/app";
import { stallingProxy } from "./helpers/stalling-proxy";
import { sleep, uniquePrefix } from "./helpers/stores";

/**
 * A link to Redis that stalls without closing (a proxy or a path that holds bytes): the
 * client's cache hears of ended sessions over that link, so without a check it would go on
 * serving a revoked session for as long as the stall lasts.
 */
describe("a stalled link to Redis, with the session cache on", () => {
  test("when the link stalls and a session is ended meanwhile, then its next pages answer 503 once the stall is seen, never the page; once the link answers, it is signed out", async () => {
    const target = new URL(process.env.TEST_REDIS_URL!);
    const proxy = await stallingProxy(target.hostname, Number(target.port));
    const config = loadConfig({ SESSION_SECRET: "test-secret-test-secret-test-secret", SIGNIN_LIMIT_PER_IP: "10000", SESSION_CACHE_ENTRIES: "1000" });
    const viaProxy = await connectRedis(`redis://127.0.0.1:${proxy.port}`, 1000);
    viaProxy.on("error", () => {});
    const direct = await connectRedis(process.env.TEST_REDIS_URL!);
    direct.on("error", () => {});
    const keyPrefix = uniquePrefix();
    let stalledAt = 0;
    const backend = await openBackend(config, {
      client: viaProxy,
      keyPrefix,
      passwords: testPasswords,
      events: { ...quietMail, redisStalled: () => (stalledAt = Date.now()) },
    });
    const other = await openBackend(config, { client: direct, keyPrefix, passwords: testPasswords, events: quietMail });
    try {
      const app = appOn(config, backend);
      const laptop = browser(app);
      const account = await signUp(laptop);
      const phone = browser(app, SAFARI_IPHONE);
      await signIn(phone, account);
      // Pages that change nothing: the session is now answered from the cache.
      for (let i = 0; i < 3; i++) expect((await phone.get("/dashboard")).status).toBe(200);
      const userId = (await other.users.findByEmail(account.email))!.id;
      const handle = (await other.kit.store.listUserSessions(userId)).find((s) => s.userAgent === SAFARI_IPHONE)!.handle;

      proxy.stall();
      // Another instance, on a link of its own, ends the phone's session.
      expect(await other.kit.store.endUserSession(userId, handle, { reason: "admin", at: Date.now() })).toBe(true);
      const endedAt = Date.now();
      let answer = await phone.get("/dashboard");
      // Until the stall is seen the cache may answer; each wait is a quarter second, bounded by twice the checks' own bound.
      for (let waited = 0; answer.status === 200 && waited < 2 * (STALL_CHECK_MS + STALL_TIMEOUT_MS); waited += 250) {
        await sleep(250);
        answer = await phone.get("/dashboard");
      }
      const refusedAfter = Date.now() - endedAt;
      expect(stalledAt).toBeGreaterThan(0);
      expect(answer.status).toBe(503);
      expect(answer.headers["retry-after"]).toBeDefined();
      expect(answer.text).not.toMatch(/at \w+ \(/);
      process.stdout.write(`stalled link: revoked session refused ${refusedAfter} ms after it was ended (stall seen ${stalledAt - endedAt} ms after)\n`);

      proxy.resume();
      let after = await phone.get("/dashboard");
      for (let i = 0; i < 40 && after.status === 503; i++) {
        await sleep(250);
        after = await phone.get("/dashboard");
      }
      expect(after.status).toBe(303);
      expect((await laptop.get("/dashboard")).status).toBe(200);
    } finally {
      await backend.close();
      await other.close();
      await viaProxy.close().catch(() => viaProxy.destroy());
      await direct.close();
      await proxy.close();
    }
  });
});
