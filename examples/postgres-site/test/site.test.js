// The example site, with the package installed from its npm tarball, driven by two and three
// devices through sign-in, the sessions page, signing one device out and all the others.
const { after, before, test } = require("node:test");
const assert = require("node:assert/strict");
const { randomBytes } = require("node:crypto");
const pg = require("pg");
const { createClient } = require("redis");
const { openAccounts } = require("../accounts");
const { createSite } = require("../site");
const { startPostgres, startRedis } = require("./services");

const LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const TABLET = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

let postgres;
let redisServer;
let pool;
let redis;
let site;
let server;
let base;
// This run's own schema and key prefix: nothing else in the database or in Redis is touched.
const schema = `site_test_${randomBytes(6).toString("hex")}`;
const keyPrefix = `site_test_${randomBytes(6).toString("hex")}:`;

before(async () => {
  [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  pool = new pg.Pool({ connectionString: postgres.url });
  redis = await createClient({ url: redisServer.url, disableOfflineQueue: true }).connect();
  const accounts = await openAccounts(pool, schema);
  site = await createSite({ accounts, redis, secret: "a secret for the example site's tests", env: {}, keyPrefix });
  server = site.app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.on("listening", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await site?.sessions.close();
  if (redis) {
    for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*` })) if (keys.length > 0) await redis.del(keys);
    await redis.close();
  }
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool?.end();
  await postgres?.stop();
  await redisServer?.stop();
});

/** A browser: its own cookies and user agent, following no redirect by itself. */
function device(userAgent) {
  const jar = new Map();
  const go = async (path, init = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const res = await fetch(base + path, { ...init, redirect: "manual", headers: { "user-agent": userAgent, cookie, ...init.headers } });
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const at = pair.indexOf("=");
      if (/expires=Thu, 01 Jan 1970/i.test(set)) jar.delete(pair.slice(0, at));
      else jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  };
  const page = async (path) => {
    const res = await go(path);
    return { status: res.status, location: res.headers.get("location"), html: await res.text() };
  };
  /** Loads a page and sends one of its forms, with the page's CSRF token, as a person would. */
  const submit = async (pagePath, action, fields = {}) => {
    const { html } = await page(pagePath);
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(token, `no CSRF token on ${pagePath}`);
    const body = new URLSearchParams({ _csrf: token, ...fields }).toString();
    return go(action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  };
  return { go, page, submit };
}

const account = { name: "Ada Lovelace", email: `ada-${randomBytes(4).toString("hex")}@example.com`, password: "correct horse battery" };
const laptop = device(LAPTOP);
const phone = device(PHONE);

test("when someone signs up on a laptop and signs in on a phone, then the laptop's sessions page lists both", async () => {
  const signUp = await laptop.submit("/signup", "/signup", account);
  assert.equal(signUp.status, 303);
  assert.equal(signUp.headers.get("location"), "/account/sessions");
  const signIn = await phone.submit("/signin", "/signin", { email: account.email, password: account.password });
  assert.equal(signIn.status, 303);

  const { status, html } = await laptop.page("/account/sessions");
  assert.equal(status, 200);
  assert.match(html, /Chrome on Windows/);
  assert.match(html, /Mobile Safari on iOS/);
  assert.match(html, /This device/);
  // The site's own layout wraps the page: its header and its sign-out form.
  assert.match(html, /Postgres Site<\/a>/);
  assert.match(html, /action="\/signout"/);

  const api = await (await laptop.go("/api/sessions")).json();
  assert.equal(api.sessions.length, 2);
  assert.deepEqual(api.sessions.map((s) => s.current).sort(), [false, true]);
  // The accounts stay in PostgreSQL, where the site keeps them.
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".users`);
  assert.equal(rows[0].n, 1);
});

test("when the laptop signs the phone out, then the phone is sent to sign in at its next page", async () => {
  const { html } = await laptop.page("/account/sessions");
  const handles = [...html.matchAll(/action="\/account\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map((m) => m[1]);
  assert.equal(handles.length, 1, "one other session, with a sign-out button");
  const res = await laptop.submit("/account/sessions", `/account/sessions/${handles[0]}/revoke`);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/account/sessions");
  assert.match((await laptop.page("/account/sessions")).html, /Signed out that session\./);

  const after = await phone.page("/account/sessions");
  assert.equal(after.status, 303);
  assert.match(after.location, /^\/signin\?next=/);
  assert.equal((await (await laptop.go("/api/sessions")).json()).sessions.length, 1);
});

test("when the laptop signs out all other sessions, then the phone and a third device are signed out and the laptop stays", async () => {
  const tablet = device(TABLET);
  for (const d of [phone, tablet]) assert.equal((await d.submit("/signin", "/signin", { email: account.email, password: account.password })).status, 303);
  assert.equal((await (await laptop.go("/api/sessions")).json()).sessions.length, 3);

  const res = await laptop.submit("/account/sessions", "/account/sessions/revoke-others");
  assert.equal(res.status, 303);
  assert.match((await laptop.page("/account/sessions")).html, /Signed out 2 other sessions\./);
  for (const d of [phone, tablet]) assert.equal((await d.page("/account/sessions")).status, 303);
  assert.equal((await laptop.page("/account/sessions")).status, 200);
  const activity = await laptop.page("/account/activity");
  assert.match(activity.html, /All other sessions signed out/);
});

test("when a form comes without its CSRF token or with a wrong password, then it is refused and nothing changes", async () => {
  const forged = await laptop.go("/account/sessions/revoke-others", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "",
  });
  assert.equal(forged.status, 403);
  const stranger = device(PHONE);
  const wrong = await stranger.submit("/signin", "/signin", { email: account.email, password: "not the password" });
  assert.equal(wrong.status, 422);
  assert.equal((await (await laptop.go("/api/sessions")).json()).sessions.length, 1);
});

test("when the laptop signs out, then its session ends on the server", async () => {
  const res = await laptop.submit("/account/sessions", "/signout");
  assert.equal(res.status, 303);
  assert.equal((await laptop.page("/account/sessions")).status, 303);
  assert.deepEqual(await site.sessions.getUserSessions((await pool.query(`SELECT id FROM "${schema}".users`)).rows[0].id), []);
});
