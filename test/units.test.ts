import fc from "fast-check";
import { addressKey } from "../src/package/addresses";
import { safeNext } from "../src/package/auth/safe-next";
import { ConfigError, loadConfig } from "../src/package/config";
import { decode, encode } from "../src/package/session-store/session-record";
import { peekState } from "../src/package/session-store/session-store";
import { describeDevice } from "../src/package/sessions/device";
import { PasswordHasher } from "../src/site/users/password";

describe("configuration", () => {
  test("when nothing is set, then the documented defaults apply and a random secret is made", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      redisUrl: undefined,
      idleTimeout: 2592000,
      absoluteTimeout: 7776000,
      updateAge: 60,
      reauthWindow: 900,
      maxSessionsPerUser: 100,
      trustProxy: false,
      sessionSecretGenerated: true,
    });
    expect(c.sessionSecrets[0].length).toBeGreaterThanOrEqual(32);
  });

  test("when NODE_ENV=production lacks REDIS_URL or SESSION_SECRET, then it refuses with what to set", () => {
    expect(() => loadConfig({ NODE_ENV: "production", SESSION_SECRET: "x".repeat(40) })).toThrow(/REDIS_URL is required/);
    expect(() => loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379" })).toThrow(/SESSION_SECRET is required/);
    expect(() => loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379", SESSION_SECRET: "short" })).toThrow(ConfigError);
    const ok = loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379", SESSION_SECRET: `${"a".repeat(32)},${"b".repeat(32)}` });
    expect(ok).toMatchObject({
      host: "0.0.0.0",
      production: true,
      sessionSecrets: ["a".repeat(32), "b".repeat(32)],
      tokenSecrets: ["a".repeat(32), "b".repeat(32)],
    });
    // A shorter, older secret may follow the one that signs: it verifies session cookies only.
    const moved = loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379", SESSION_SECRET: `${"a".repeat(32)},keyboard cat` });
    expect(moved).toMatchObject({ sessionSecrets: ["a".repeat(32), "keyboard cat"], tokenSecrets: ["a".repeat(32)] });
    expect(() => loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379", SESSION_SECRET: `keyboard cat,${"a".repeat(32)}` })).toThrow(
      /the one that signs/,
    );
    // Given as createSessions' `secret`, a blank entry is left out, not kept as a secret anyone can sign with.
    const given = loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://r:6379" }, { secret: ["a".repeat(32), " ", ""] });
    expect(given.sessionSecrets).toEqual(["a".repeat(32)]);
  });

  test("when production is given a secret string with a comma, then it refuses and shows the array form; an array may hold one", () => {
    const prod = { NODE_ENV: "production", REDIS_URL: "redis://r:6379" };
    const strong = "a".repeat(32);
    // createSessions' `secret` as one string: is it one secret or a list? Express's own example's secret has a comma.
    for (const secret of [`${strong},keyboard cat`, `${strong}, shhhh, very secret`]) {
      expect(() => loadConfig(prod, { secret })).toThrow(/holds a comma.*as an array: secret: \[process\.env\.SESSION_SECRET/);
    }
    expect(loadConfig(prod, { secret: [strong, "shhhh, very secret"] }).sessionSecrets).toEqual([strong, "shhhh, very secret"]);
    // SESSION_SECRET with a comma where the site reads it in its own session(): refused, never "new,old" suggested.
    expect(() => loadConfig({ ...prod, SESSION_SECRET: `${strong},keyboard cat` }, { siteSession: true })).toThrow(/SESSION_SECRET holds a comma/);
    expect(() => loadConfig({ ...prod, SESSION_SECRET: "keyboard cat" }, { siteSession: true })).toThrow(ConfigError);
    try {
      loadConfig({ ...prod, SESSION_SECRET: "keyboard cat" }, { siteSession: true });
    } catch (err) {
      expect((err as Error).message).not.toMatch(/new,old/);
    }
    // Where the package reads it for its own session(), the list form is one setting both read.
    expect(loadConfig({ ...prod, SESSION_SECRET: `${strong},keyboard cat` }).sessionSecrets).toEqual([strong, "keyboard cat"]);
  });

  test("when no secret is strong outside production, then tokens get a key of this process and the start says so", () => {
    const weak = loadConfig({ SESSION_SECRET: "keyboard cat" });
    expect(weak.sessionSecrets).toEqual(["keyboard cat"]);
    expect(weak.tokenSecrets).toHaveLength(1);
    expect(weak.tokenSecrets[0]).not.toBe("keyboard cat");
    expect(weak.tokenSecrets[0].length).toBeGreaterThanOrEqual(32);
    expect(weak.warnings).toEqual([expect.stringMatching(/SESSION_SECRET, or createSessions' `secret`\) has no secret of 32 characters or more/)]);
    expect(loadConfig({ SESSION_SECRET: `${"a".repeat(32)},keyboard cat` })).toMatchObject({ tokenSecrets: ["a".repeat(32)], warnings: [] });
  });

  test("when a cluster is configured, then its seeds are parsed, and it cannot be given together with REDIS_URL", () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:6379, redis-2:6380" }).redisClusterNodes).toEqual(["10.0.0.1:6379", "redis-2:6380"]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: "no-port" })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: "a:1", REDIS_URL: "redis://b:2" })).toThrow(/not both/);
    expect(() => loadConfig({ REDIS_SENTINELS: "s:26379", REDIS_URL: "redis://b:2" })).toThrow(/Set only one/);
    expect(loadConfig({ REDIS_SENTINELS: "s1:26379,s2:26379", REDIS_SENTINEL_NAME: "db" })).toMatchObject({
      redisSentinels: ["s1:26379", "s2:26379"],
      redisSentinelName: "db",
    });
    expect(loadConfig({ NODE_ENV: "production", REDIS_CLUSTER_NODES: "a:1", SESSION_SECRET: "s".repeat(32) }).production).toBe(true);
  });

  test("when a value is malformed, then the message names the variable", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => loadConfig({ REDIS_URL: "localhost:6379" })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ SESSION_IDLE_TIMEOUT: "100", SESSION_ABSOLUTE_TIMEOUT: "50" })).toThrow(/ABSOLUTE/);
    expect(loadConfig({ TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "loopback" }).trustProxy).toEqual(["loopback"]);
    expect(loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8,fd00::/8" }).trustProxy).toEqual(["loopback", "10.0.0.0/8", "fd00::/8"]);
    expect(loadConfig({ TRUST_PROXY: "0" }).trustProxy).toBe(false);
  });

  test.each(["0.0.0.0/1,128.0.0.0/1", "8.0.0.0/7", "203.0.0.0/12", "2000::/3", "2001:db8::/16", "::ffff:0.0.0.0/97", "10.0.0.0/8,64.0.0.0/2"])(
    "when TRUST_PROXY trusts public space wider than a /16 or a /32 (%s), then start-up stops as for true",
    (value) => {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/would let any client choose its own IP address with X-Forwarded-For/);
    },
  );

  test("when TRUST_PROXY names private space of any width or narrow public ranges, then it is accepted", () => {
    const ranges = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.0/8,fc00::/7,fe80::/10,203.0.113.0/24,198.51.0.0/16,2001:db8::/32,loopback";
    expect(loadConfig({ TRUST_PROXY: ranges }).trustProxy).toHaveLength(11);
  });

  test.each(["true", "TRUE", "yes", "*", "0.0.0.0/0", "10.0.0.0/8,::/0", "proxy.example", "11"])(
    "when TRUST_PROXY is %s, then start-up stops with a message that says what to set",
    (value) => {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(ConfigError);
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY=.*number of proxies/);
    },
  );
});

describe("per-address keys", () => {
  test("when addresses are counted, then IPv4 stands alone and IPv6 counts by its /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::ffff:198.51.100.1")).toBe("198.51.100.1");
  });
});

describe("password hashing", () => {
  const cheap = new PasswordHasher({ logN: 10, r: 8, p: 1 });

  test("when a password is hashed, then the hash names its cost and verifies only the same password", async () => {
    const hash = await cheap.hash("correct horse");
    expect(hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(await cheap.verify("correct horse", hash)).toBe(true);
    expect(await cheap.verify("correct horsE", hash)).toBe(false);
    expect(await cheap.verify("correct horse", "not a hash")).toBe(false);
    expect(await cheap.hash("correct horse")).not.toBe(hash);
  });

  test("when the cost is raised, then older hashes are flagged for re-hashing and still verify", async () => {
    const hash = await cheap.hash("pw-pw-pw-pw");
    const stronger = new PasswordHasher({ logN: 11, r: 8, p: 1 });
    expect(stronger.needsRehash(hash)).toBe(true);
    expect(cheap.needsRehash(hash)).toBe(false);
    expect(await stronger.verify("pw-pw-pw-pw", hash)).toBe(true);
  });

  test("when the server's hasher (no cost given) hashes, then the hash has OWASP's scrypt cost: N=2^16, r=8, p=2", async () => {
    const hash = await new PasswordHasher().hash("correct horse");
    expect(hash).toMatch(/^\$scrypt\$ln=16,r=8,p=2\$/);
  });
});

describe("safeNext", () => {
  test.each([
    ["/settings/sessions?tab=1", "/settings/sessions?tab=1"],
    ["//evil.example", "/dashboard"],
    ["/\\evil.example", "/dashboard"],
    ["\\\\evil.example", "/dashboard"],
    ["https://evil.example", "/dashboard"],
    ["javascript:alert(1)", "/dashboard"],
    ["/%2f%2fevil.example", "/dashboard"],
    ["/%5c%5cevil.example", "/dashboard"],
    ["/ok\r\nSet-Cookie: x=1", "/dashboard"],
    ["/%0d%0aSet-Cookie", "/dashboard"],
    ["/\u0000", "/dashboard"],
    ["/%E0%A4%A", "/dashboard"],
    ["", "/dashboard"],
    ["/login", "/dashboard"],
    // Dot segments are removed before the browser requests the path: judged after that.
    ["/.//evil.example", "/dashboard"],
    ["/%2e%2e//evil.example", "/dashboard"],
    ["/%2E//evil.example", "/dashboard"],
    ["/a/..//evil.example", "/dashboard"],
    ["/a/%2e%2e//evil.example?x=1#y", "/dashboard"],
    ["/././/evil.example", "/dashboard"],
    ["/..//evil.example", "/dashboard"],
    ["/a/%2e%2e/%2fevil.example", "/dashboard"],
    ["/a/../login", "/dashboard"],
    ["/a/./b/../settings", "/a/settings"],
  ])("when next is %j, then it gives %j", (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });

  test("when next is not a string, then it gives the dashboard", () => {
    expect(safeNext(["/a"])).toBe("/dashboard");
    expect(safeNext({ toString: () => "/a" })).toBe("/dashboard");
  });

  test("whatever next is, a browser following the result stays on this site", () => {
    const site = "https://site.example";
    const pieces = fc.constantFrom("/", "//", ".", "..", "%2e", "%2E", "%2f", "%5c", "\\", "a", "?", "#", "@", ":", "evil.example", "%00", "\t");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(pieces, { maxLength: 12 }).map((p) => p.join("")),
        ),
        (next) => {
          const target = safeNext(next);
          expect(target.startsWith("/") && !target.startsWith("//")).toBe(true);
          expect(new URL(target, site).origin).toBe(site);
          expect(new URL(target, `${site}/deep/path/`).origin).toBe(site);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("device names", () => {
  test.each([
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on macOS", "Desktop"],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      "Mobile Safari on iOS",
      "Mobile",
    ],
    [
      "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      "Mobile Safari on iOS",
      "Tablet",
    ],
    ["Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Linux", "Desktop"],
    ["curl/8.5.0", "Unknown browser", "Desktop"],
    // Text browsers, by the user agents they send (Debian 12's lynx, w3m, links2 and elinks).
    // Lynx names its TLS library, not its system: GNUTLS is no system called "GNU".
    ["Lynx/2.9.0dev.12 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.7.9", "Lynx", "Desktop"],
    ["Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.1.1n", "Lynx", "Desktop"],
    ["w3m/0.5.3+git20230121", "w3m", "Desktop"],
    ["Links (2.28; Linux 6.1.0-13-amd64 x86_64; GNU C 12.2; text)", "Links on Linux", "Desktop"],
    ["Links (2.29; Darwin 23.1.0 arm64; Clang 15.0; text)", "Links on macOS", "Desktop"],
    ["ELinks/0.16.1.1 (textmode; Linux 6.1.0 x86_64; 80x24-2)", "ELinks on Linux", "Desktop"],
    ["ELinks/0.12pre6 (textmode; FreeBSD 12.0-RELEASE amd64; 80x24-2)", "ELinks on FreeBSD", "Desktop"],
    ["", "Unknown browser", "Unknown"],
  ])("when the user agent is %s, then it reads %s (%s)", (ua, label, type) => {
    expect(describeDevice(ua)).toEqual({ label, type });
  });
});

describe("session records", () => {
  const cookie = { httpOnly: true, path: "/", sameSite: "lax" as const, secure: false };
  const life = { idle: 60_000, browserIdle: 60_000, absolute: 120_000, anonymous: 60_000, updateAge: 1_000 };

  test("when a record was written before the package's state had a key of its own, then it reads as the package's state", () => {
    const now = Date.now();
    const older = { uv: 0, uid: "u1", u: "", d: JSON.stringify({ c: now - 1000, l: now - 500, ua: "UA", ip: "192.0.2.1", t: "token" }) };
    const sess = decode(older, cookie, life, now)!;
    expect(peekState(sess)).toEqual({ userId: "u1", createdAt: now - 1000, lastActiveAt: now - 500, userAgent: "UA", ip: "192.0.2.1", csrfToken: "token" });
  });

  test("when a session is encoded and decoded, then the site's keys come back as they were and the package's state apart", () => {
    const now = Date.now();
    const site = { passport: { user: 3 }, userId: 3, c: "a site key that is also a short name" };
    const record = encode({ cookie: {}, ...site } as never, { userId: "3", createdAt: now, lastActiveAt: now });
    expect(record.uid).toBe("3");
    const sess = decode(record, cookie, life, now)! as unknown as Record<string, unknown>;
    expect(sess).toEqual({ cookie: expect.any(Object), passport: { user: 3 }, userId: 3, c: "a site key that is also a short name" });
    expect(peekState(sess as never)).toEqual({ userId: "3", createdAt: now, lastActiveAt: now });
  });

  test("when a record's package state is not an object, then it reads as no session rather than a signed-in one with no state", () => {
    const now = Date.now();
    for (const own of [null, "c", [1, 2], 7]) {
      expect(decode({ uv: 0, uid: "u1", u: "", d: JSON.stringify({ "~": own, cart: 1 }) }, cookie, life, now)).toBeNull();
    }
  });

  test("when a state key at rest is named like a property of every object, then it is kept as data", () => {
    const now = Date.now();
    const sess = decode({ uv: 0, uid: "", u: "", d: JSON.stringify({ "~": { l: now, constructor: "x", toString: "y" } }) }, cookie, life, now)!;
    expect(peekState(sess)).toEqual({ lastActiveAt: now, constructor: "x", toString: "y" });
  });
});
