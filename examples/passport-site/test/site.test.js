// The Passport site, with the package installed from its npm tarball: devices sign in through
// the site's own form (csurf on every route, the package's too), see and end each other on the
// sessions page, sign out with req.logout, and meet a Redis that has stopped.
const { after, before, test } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const { randomBytes } = require("node:crypto");
const net = require("node:net");
const { createClient } = require("redis");
const { openUsers } = require("../users");
const { createSite } = require("../site");

const LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const TABLET = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
const PASSWORD = "correct horse battery";
const secret = "a secret for the passport site's tests";
// This run's own key prefix: nothing else in Redis is touched.
const keyPrefix = `passport_site_test_${randomBytes(6).toString("hex")}:`;

/** A Redis of this test's own, on a free loopback port; REDIS_URL's is never stopped. */
async function ownRedis(onPort) {
  const port =
    onPort ??
    (await new Promise((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address();
        probe.close(() => resolve(port));
      });
    }));
  let child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const missing = new Promise((_, reject) =>
    child.on("error", () => reject(new Error("redis-server not found: apt-get install redis-server (Debian/Ubuntu)"))),
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    const probe = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: false } }).on("error", () => {});
    const up = await Promise.race([
      missing,
      probe.connect().then(
        () => probe.close().then(() => true),
        () => false,
      ),
    ]);
    if (up) break;
    if (tries > 100) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: () => child.kill("SIGKILL"),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    /** Starts it again on the same port, empty. */
    async restart() {
      const again = await ownRedis(port);
      child = again.child;
    },
    get child() {
      return child;
    },
  };
}

/** The site on a Redis, listening on a free port; env: the package's settings (REDIS_READ_RETRY_MS, say). */
async function startSite(users, redisUrl, env = {}) {
  // As server.js makes it: reconnecting at least twice a second, and not waited for.
  const redis = createClient({ url: redisUrl, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * 2 ** n, 500) } });
  redis.connect().catch(() => {});
  const site = createSite({ users, redis, secret, env, keyPrefix });
  const server = site.app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.on("listening", resolve));
  return {
    ...site,
    base: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await site.sessions.close();
      if (redis.isReady) {
        for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*` })) if (keys.length > 0) await redis.del(keys);
        await redis.close();
      } else redis.destroy();
    },
  };
}

/** A browser: its own cookies and user agent; redirects are not followed, so each answer can be read. */
function device(site, userAgent) {
  const cookies = new Map();
  const go = async (path, form) => {
    const headers = { "user-agent": userAgent, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    const init = form
      ? { method: "POST", body: new URLSearchParams(form).toString(), headers: { ...headers, "content-type": "application/x-www-form-urlencoded" } }
      : { headers };
    const res = await fetch(site.base + path, { ...init, redirect: "manual" });
    for (const set of res.headers.getSetCookie()) {
      const [name, value] = set.split(";")[0].split(/=(.*)/s);
      if (/expires=Thu, 01 Jan 1970/i.test(set)) cookies.delete(name);
      else cookies.set(name, value);
    }
    return { status: res.status, location: res.headers.get("location"), headers: res.headers, html: await res.text() };
  };
  return {
    get: (path) => go(path),
    post: (path, form = {}) => go(path, form),
    /** Signs in through the site's own form: Passport's, with the site's own csurf token. */
    signIn: async (username) => go("/login", { username, password: PASSWORD, _csrf: tokenOn((await go("/login")).html) }),
    /** Signs out with the site's own form, in its layout. */
    signOut: async () => go("/logout", { _csrf: tokenOn((await go("/")).html) }),
  };
}

const tokenOn = (html) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
/** The hidden fields of the page's form that posts to `action`: the site's `_csrf` and the package's own `_sessions_csrf`. */
const hiddenFieldsOf = (html, action) => {
  const form = html.split("<form").find((f) => f.includes(`action="${action}"`)) ?? "";
  return Object.fromEntries([...form.split("</form>")[0].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]));
};
const handlesOn = (html) => [...html.matchAll(/action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map((m) => m[1]);

let users;
let redisServer;
let site;
let ada;

before(async () => {
  users = openUsers();
  ada = users.create("ada", "Ada Lovelace", PASSWORD, "pro");
  redisServer = process.env.REDIS_URL ? { url: process.env.REDIS_URL, stop() {} } : await ownRedis();
  site = await startSite(users, redisServer.url);
});

after(async () => {
  await site?.close();
  redisServer?.stop();
  users?.close();
});

test("two devices sign in through the site's own form and see each other; req.user stays the site's row", async () => {
  const [laptop, phone] = [device(site, LAPTOP), device(site, PHONE)];
  for (const d of [laptop, phone]) {
    const res = await d.signIn(ada.username);
    assert.equal(res.status, 303, "the site's sign-in form takes the site's own token");
    const home = await d.get("/");
    assert.match(home.html, /You are on the pro plan/);
  }
  const page = await laptop.get("/account/sessions");
  assert.equal(page.status, 200);
  assert.match(page.html, /<title>Your sessions · Passport site<\/title>/);
  assert.match(page.html, /This device/);
  assert.equal(handlesOn(page.html).length, 1, "the phone is listed, with its own sign-out form");
  const activity = await laptop.get("/account/activity");
  assert.match(activity.html, /Signed in/);
  for (const html of [page.html, activity.html]) {
    assert.equal(html.match(/<h1[\s>]/g)?.length ?? 0, 1, "each page has one h1, the site's, above the package's own heading");
  }
});

test("one device ends another, then all others: those devices are signed out of the site and told why", async () => {
  const [laptop, phone, tablet] = [device(site, LAPTOP), device(site, PHONE), device(site, TABLET)];
  for (const d of [laptop, phone, tablet]) {
    await d.signIn(ada.username);
    await d.get("/");
  }
  const page = await laptop.get("/account/sessions");
  const phoneHandle = (await site.sessions.getUserSessions(String(ada.id))).find((s) => s.userAgent === PHONE).handle;
  const ended = await laptop.post(`/account/sessions/${phoneHandle}/revoke`, {
    ...hiddenFieldsOf(page.html, `/account/sessions/${phoneHandle}/revoke`),
    password: PASSWORD,
  });
  assert.equal(ended.status, 303);
  const phoneHome = await phone.get("/");
  assert.match(phoneHome.html, /Sign in<\/a>/);
  assert.match(phoneHome.html, /role="status">You were signed out from Chrome on Windows/);

  const again = await laptop.get("/account/sessions");
  const all = await laptop.post("/account/sessions/revoke-others", { ...hiddenFieldsOf(again.html, "/account/sessions/revoke-others"), password: PASSWORD });
  assert.equal(all.status, 303);
  assert.match((await tablet.get("/")).html, /Sign in<\/a>/);
  assert.match((await laptop.get("/")).html, /You are on the pro plan/);
  assert.equal((await site.sessions.getUserSessions(String(ada.id))).length, 1);
});

test("the site's own sign-out (req.logout) ends the session in the list and the activity", async () => {
  const laptop = device(site, LAPTOP);
  await laptop.signIn(ada.username);
  await laptop.get("/");
  const before = (await site.sessions.getUserSessions(String(ada.id))).length;
  const out = await laptop.signOut();
  assert.equal(out.status, 303);
  assert.match((await laptop.get("/")).html, /Sign in<\/a>/);
  assert.equal((await site.sessions.getUserSessions(String(ada.id))).length, before - 1);
  const { entries } = await site.sessions.activity.list(String(ada.id), { limit: 1 });
  assert.equal(entries[0].type, "signed_out");
});

test("a form of the package's without the site's token is refused by the site's own check and error page; the site's own forms are not", async () => {
  const laptop = device(site, LAPTOP);
  await laptop.signIn(ada.username);
  await laptop.get("/");
  for (const form of [{ password: PASSWORD }, { password: PASSWORD, _csrf: "made-up" }]) {
    const forged = await laptop.post("/account/sessions/revoke-others", form);
    assert.equal(forged.status, 403);
    assert.equal(forged.html, "That form has expired.");
  }
  assert.equal((await laptop.post("/logout")).status, 403, "the site's own check guards its own forms too");
  assert.equal((await laptop.signOut()).status, 303);
});

test("an account without an email: its new device's sign-in is tracked, and no alert mail is written", async () => {
  const written = [];
  const log = console.log;
  console.log = (...args) => written.push(args.join(" "));
  try {
    const phone = device(site, PHONE);
    await phone.signIn(ada.username);
    assert.match((await phone.get("/account/sessions")).html, /This device/);
    // The mail queue prints beside the request, on a later tick: give it the time.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    console.log = log;
  }
  assert.deepEqual(
    written.filter((line) => /^mail to|not-me/.test(line)),
    [],
  );
});

test("Redis not there when the site starts: a visitor's pages answer at once, a cookie's waits REDIS_TIMEOUT once, and the site works once Redis is up", async () => {
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const late = await startSite(users, `redis://127.0.0.1:${port}`, { REDIS_TIMEOUT: "1" });
  let redis;
  try {
    const held = [];
    const visitor = device(late, PHONE);
    for (const path of ["/", "/login", "/account/sessions.css"]) {
      const started = Date.now();
      assert.equal((await visitor.get(path)).status, 200, path);
      held.push(Date.now() - started);
    }
    const laptop = device(late, LAPTOP);
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await fetch(`${late.base}/account/sessions`, { headers: { cookie: "connect.sid=s%3Aabc.def" }, redirect: "manual" });
      assert.equal(res.status, 503);
      held.push(Date.now() - started);
    }
    console.log(`Redis absent at start, REDIS_TIMEOUT=1000 ms: answers after ${held.join(", ")} ms; longest ${Math.max(...held)} ms`);
    assert.ok(Math.max(...held) < 1500);
    assert.ok(held.filter((ms) => ms > 500).length <= 1);
    redis = await ownRedis(port);
    await late.sessions.ready();
    let signedIn = await laptop.signIn(ada.username);
    for (let i = 0; i < 40 && signedIn.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 50));
      signedIn = await laptop.signIn(ada.username);
    }
    assert.equal(signedIn.status, 303);
    assert.match((await laptop.get("/")).html, /pro plan/);
  } finally {
    await late.close();
    redis?.stop();
  }
});

test("Redis stops, then is paused: one request waits REDIS_TIMEOUT at most, the others answer 503 at once, a visitor's pages answer as usual, and the first sign-in after it is back holds", async () => {
  const redis = await ownRedis();
  const outage = await startSite(users, redis.url, { REDIS_TIMEOUT: "1" });
  try {
    const laptop = device(outage, LAPTOP);
    await laptop.signIn(ada.username);
    assert.match((await laptop.get("/")).html, /pro plan/);
    for (const how of ["stopped", "paused"]) {
      if (how === "stopped") redis.stop();
      else redis.pause();
      const held = [];
      const timed = async (label, go) => {
        const started = Date.now();
        const res = await go();
        held.push({ label, status: res.status, ms: Date.now() - started });
        return res;
      };
      for (const path of ["/", "/account/sessions", "/"]) {
        const res = await timed(path, () => laptop.get(path));
        assert.equal(res.status, 503, `${path} while Redis is ${how}`);
        assert.equal(res.headers.get("retry-after"), "5");
        assert.doesNotMatch(res.html, /at \w+ \(/);
      }
      const visitor = device(outage, PHONE);
      for (const path of ["/", "/login", "/account/sessions.css"]) assert.equal((await timed(`${path} (visitor)`, () => visitor.get(path))).status, 200, path);
      const longest = Math.max(...held.map((h) => h.ms));
      console.log(`Redis ${how}, REDIS_TIMEOUT=1000 ms: ${held.map((h) => `${h.label} ${h.status} ${h.ms} ms`).join("; ")}; longest ${longest} ms`);
      assert.ok(longest < 1500, `no request held past the bound (${longest} ms)`);
      assert.ok(held.filter((h) => h.ms > 500).length <= 1, "only the first request of the outage waits");
      if (how === "stopped") await redis.restart();
      else redis.resume();
      const backAt = Date.now();
      let back = await laptop.get("/account/sessions");
      while (back.status === 503 && Date.now() - backAt < 5000) {
        await new Promise((r) => setTimeout(r, 50));
        back = await laptop.get("/account/sessions");
      }
      console.log(`Redis back from ${how}: pages answer again after ${Date.now() - backAt} ms`);
      // Stopped without persistence, Redis lost the laptop's session: it signs in again, and that sign-in holds.
      if (how === "stopped") {
        assert.equal((await laptop.signIn(ada.username)).status, 303);
        assert.match((await laptop.get("/")).html, /pro plan/);
      } else assert.equal(back.status, 200);
    }
  } finally {
    redis.resume();
    await outage.close();
    redis.stop();
  }
});
