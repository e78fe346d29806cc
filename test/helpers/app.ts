import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { Express } from "express";
import pino from "pino";
import type { RedisClientType } from "redis";
import request from "supertest";
import type { ActivityLog } from "../../src/package/activity/activity-log";
import { type Config, loadConfig } from "../../src/package/config";
import type { MailMessage } from "../../src/package/index";
import type { PromMetrics as Metrics } from "../../src/package/metrics";
import type { SessionStore } from "../../src/package/session-store/session-store";
import { createApp } from "../../src/site/app";
import type { AppDeps } from "../../src/site/app-deps";
import { type Backend, openBackend } from "../../src/site/backend";
import { PasswordHasher } from "../../src/site/users/password";
import { connectTestRedis, type TestClock, uniquePrefix } from "./stores";

export type BackendKind = "redis" | "embedded";

/** scrypt at a low cost keeps the suite fast; the format and code path are the product's. */
export const testPasswords = new PasswordHasher({ logN: 10, r: 8, p: 1 });

/** What the app was built from, and the sessions' store and activity log, for tests to look into. */
export type TestDeps = AppDeps & { sessions: SessionStore; activity: ActivityLog };

export interface TestApp {
  /** The mail the package wrote rather than sent (no SMTP_URL). */
  mails: MailMessage[];
  app: Express;
  deps: TestDeps;
  backend: Backend;
  logs: string[];
  redis?: RedisClientType;
  /** Key prefix used in Redis, so a second app can share this one's data. */
  prefix: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Share another test app's data (a restart of the server). */
  shareWith?: TestApp;
  /** The clock of the app and its stores: tests of timeouts move it rather than sleep. */
  clock?: TestClock;
  /** Prometheus metrics to count into, as with METRICS_PORT. */
  metrics?: Metrics;
}

/** The configuration tests run with: a fixed secret, and room for the many sign-ins from one test IP. */
export function testConfig(env: Record<string, string> = {}): Config {
  // The throttling tests set their own limits.
  return loadConfig({
    SESSION_SECRET: "test-secret-test-secret-test-secret",
    SIGNIN_LIMIT_PER_IP: "10000",
    SIGNIN_CHECKS_PER_IP: "10000",
    SIGNIN_CHECKS_PER_ACCOUNT: "10000",
    SIGNUP_LIMIT_PER_IP: "10000",
    ...env,
  });
}

/** Each test app's accounts and sessions, by its app: signUp() makes the account's sign-up link through them. */
const depsOfApp = new WeakMap<object, Pick<AppDeps, "users" | "kit">>();

/** The site's app on these dependencies, as createApp builds it, known to signUp(). */
export function appWith(deps: AppDeps): Express {
  const app = createApp(deps);
  depsOfApp.set(app, deps);
  return app;
}

export async function createTestApp(kind: BackendKind, options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const logs: string[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const prefix = options.shareWith?.prefix ?? uniquePrefix();
  // A restart of the server: on Redis a new backend over the same keys; embedded, the same process's memory.
  const shared = kind === "embedded" ? options.shareWith?.backend : undefined;
  // The client as the server connects it, with this test's settings (SESSION_CACHE_ENTRIES).
  const cacheEntries = options.env?.SESSION_CACHE_ENTRIES;
  const redis = kind === "redis" ? await connectTestRedis(cacheEntries ? { SESSION_CACHE_ENTRIES: cacheEntries } : {}) : undefined;
  const now = options.clock?.now;
  const { metrics } = options;
  // Without SMTP_URL the package hands each message here rather than print it.
  const mails: MailMessage[] = [];
  const events = { mailWritten: (message: MailMessage) => mails.push(message) };
  const backend = shared ?? (await openBackend(config, { client: redis, keyPrefix: prefix, now, passwords: testPasswords, metrics, events }));
  const deps: TestDeps = { ...backend, config, passwords: testPasswords, logger, metrics, sessions: backend.kit.store, activity: backend.kit.activity };
  const app = appWith(deps);
  return {
    app,
    deps,
    backend,
    logs,
    mails,
    redis,
    prefix,
    async close() {
      if (!shared) await backend.close();
      if (redis?.isOpen) await redis.close();
    },
  };
}

export const CHROME_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
export const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

export type Agent = ReturnType<typeof request.agent>;

/** A browser: keeps cookies and sends one user agent. */
export function browser(app: Express, userAgent = CHROME_WINDOWS): Agent {
  return request.agent(app).set("User-Agent", userAgent);
}

export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF token on the page");
  return m[1];
}

/**
 * The hidden CSRF fields of the first form on a page (or of the form posting to `action`), as a
 * browser would send them: `_csrf`, and the package's own `_sessions_csrf` when the form has one.
 */
export function csrfFieldsFrom(html: string, action?: string): Record<string, string> {
  const forms = html.split(/<form\b/).slice(1);
  const formHtml = action === undefined ? forms[0] : forms.find((f) => f.includes(`action="${action}"`));
  if (formHtml === undefined) throw new Error(`no form${action ? ` posting to ${action}` : ""} on the page`);
  const fields: Record<string, string> = {};
  for (const m of formHtml.split("</form>")[0].matchAll(/<input type="hidden" name="(_csrf|_sessions_csrf)" value="([^"]*)">/g)) fields[m[1]] = m[2];
  if (!fields._csrf) throw new Error("no CSRF token in the form");
  return fields;
}

/** Loads a page and submits one of its forms, as a person would. */
export async function submit(agent: Agent, pagePath: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(pagePath);
  return agent
    .post(action)
    .type("form")
    .send({ _csrf: csrfFrom(page.text), ...fields });
}

let counter = 0;
export function newAccount(name = "Ada Lovelace") {
  counter += 1;
  return { name, email: `user${Date.now()}-${counter}@example.com`, password: "correct horse battery" };
}

/**
 * Creates an account through the sign-up form, then finishes it as its owner would with the
 * mail's link: the agent ends signed in. (sign-up.test.ts reads the real mail.)
 */
export async function signUp(agent: Agent, account = newAccount()) {
  const res = await submit(agent, "/signup", "/signup", account);
  if (res.status !== 303 || res.headers.location !== "/signup/sent") throw new Error(`sign-up failed: ${res.status} ${res.text.slice(0, 200)}`);
  // supertest's agent wraps the app in an http.Server: the app is its request listener.
  const server = (agent as unknown as { app: { listeners(event: string): object[] } }).app;
  const deps = depsOfApp.get(server.listeners("request")[0]);
  if (!deps) throw new Error("signUp: the agent is not one of a test app's (createTestApp)");
  const user = await deps.users.findByEmail(account.email);
  if (!user) throw new Error("sign-up failed: no account was created");
  const done = await finishSignUp(agent, `/signup/confirm?t=${deps.kit.links.make("sign-up", user.id, { version: user.cv })}`, account.password);
  if (done.status !== 303) throw new Error(`finishing the sign-up failed: ${done.status} ${done.text.slice(0, 200)}`);
  return account;
}

/** Signs up with an agent (signUp) and gives the session cookie it then holds ("sid=..."). */
export async function signedUpCookie(agent: Agent, account = newAccount()): Promise<string> {
  await signUp(agent, account);
  const cookie = sentSessionCookie(await agent.get("/dashboard"));
  if (!cookie) throw new Error("signed up, but the agent holds no session cookie");
  return cookie;
}

/** Opens a sign-up link (a path), enters the password chosen at sign-up and presses its button, as its owner would. */
export async function finishSignUp(agent: Agent, link: string, password: string) {
  const page = await agent.get(link);
  // A link that no longer works shows no button: its form is sent with a token from the sign-up page.
  const form = page.text.includes('action="/signup/confirm"') ? page : await agent.get("/signup");
  const token = new URL(link, "http://x").searchParams.get("t") ?? "";
  return agent
    .post("/signup/confirm")
    .type("form")
    .send({ _csrf: csrfFrom(form.text), t: token, password });
}

export async function signIn(agent: Agent, account: { email: string; password: string }, extra: Record<string, string> = {}) {
  return submit(agent, "/login", "/login", { email: account.email, password: account.password, ...extra });
}

export function cookieOf(res: { headers: Record<string, unknown> }, name = "sid"): string | undefined {
  const raw = res.headers["set-cookie"];
  const list = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  return list.find((c) => c.startsWith(`${name}=`));
}

/** The session cookie an agent sent with the request behind this response ("sid=..."). */
export function sentSessionCookie(res: object, name = "sid"): string | undefined {
  const sent = (res as { req?: { getHeader(name: string): unknown } }).req?.getHeader("cookie");
  return typeof sent === "string"
    ? sent
        .split(";")
        .find((c) => c.trim().startsWith(`${name}=`))
        ?.trim()
    : undefined;
}

/** An app for one test: built, handed to `run`, closed whatever `run` did. */
export async function withTestApp<T>(kind: BackendKind, options: TestAppOptions, run: (t: TestApp) => Promise<T>): Promise<T> {
  const t = await createTestApp(kind, options);
  try {
    return await run(t);
  } finally {
    await t.close();
  }
}

/** One app for the enclosing describe block: built before its tests, closed after them. */
export function useTestApp(kind: BackendKind, options: TestAppOptions = {}): () => TestApp {
  let t: TestApp | undefined;
  beforeAll(async () => {
    t = await createTestApp(kind, options);
  });
  afterAll(async () => t?.close());
  return () => {
    if (!t) throw new Error("the test app is built in beforeAll");
    return t;
  };
}

/** The app on a free loopback port, for clients that need a real socket (browsers, raw HTTP). */
/** The app on 127.0.0.1, on `port` (one from freePort, to name in PUBLIC_URL first) or any free one. */
export async function listen(app: Express, port = 0): Promise<{ base: string; port: number; close(): Promise<void> }> {
  const server = createServer(app).listen(port, "127.0.0.1");
  await once(server, "listening");
  const bound = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${bound}`,
    port: bound,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The app on a backend opened from configuration, as server.ts builds it (quiet logs, test hashing cost). */
export function appOn(config: Config, backend: Backend): Express {
  return appWith({ ...backend, config, passwords: testPasswords, logger: pino({ level: "silent" }) });
}

/** For a createSessions of a test's own: the mail it would write to the console (no SMTP_URL) goes nowhere. */
export const quietMail = { mailWritten: () => {} };
