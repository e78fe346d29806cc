/**
 * The servers the benchmarks compare, each started as its own process on a free port and
 * signed in as a browser would be: the product (the built reference site), the peer
 * (express-session + connect-redis), the peer with the product's headers and log line, and the
 * ceiling (bare Express, no session). All render the same dashboard through the same views.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { freePort } from "../test/helpers/redis-server";
import { startSmtp, type TestSmtp } from "../test/helpers/smtp";

const ROOT = path.join(__dirname, "..");
const TSX = createRequire(__filename).resolve("tsx");
export const HAS_TASKSET = spawnSync("taskset", ["-V"]).status === 0 && os.cpus().length >= 2;
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

export type TargetName = "product" | "peer" | "ceiling" | "product on Redis Cluster" | "peer + headers + log";

export interface RunningTarget {
  name: string;
  /** What progress lines call it: its name, or the label it was started with (a build's directory). */
  label: string;
  base: string;
  /** The signed-in page the loads ask for ("/dashboard"). */
  page: string;
  /** What a signed-in browser sends with every page view (its cookies). */
  headers: Record<string, string>;
  child: ChildProcess;
  /** Stops the server (SIGINT, so that a profiled process writes its profile) and waits for it. */
  stop(): Promise<void>;
}

const SECRET = "bench-secret-bench-secret-bench-secret";
const NO_LIMITS = {
  SIGNIN_LIMIT_PER_IP: "1000000",
  SIGNIN_LIMIT_PER_ACCOUNT: "1000000",
  SIGNIN_CHECKS_PER_IP: "1000000",
  SIGNIN_CHECKS_PER_ACCOUNT: "1000000",
  SIGNUP_LIMIT_PER_IP: "1000000",
};

/** How each target is started: its script and environment, given where its Redis is (and, for the product, which build). */
function launchOf(name: TargetName, redis: { url?: string; clusterNodes?: string }, dist: string): { script: string[]; env: Record<string, string> } {
  const peer = ["--import", TSX, path.join(__dirname, "peer-app.ts")];
  const product = [path.join(dist, "site", "server.js")];
  const productEnv = { NODE_ENV: "production", SESSION_SECRET: SECRET, TRUST_PROXY: "1", HOST: "127.0.0.1", LOG_LEVEL: "info", ...NO_LIMITS };
  switch (name) {
    case "product":
      return { script: product, env: { ...productEnv, REDIS_URL: redis.url! } };
    case "product on Redis Cluster":
      return { script: product, env: { ...productEnv, REDIS_CLUSTER_NODES: redis.clusterNodes! } };
    case "peer":
      return { script: peer, env: { NODE_ENV: "production", REDIS_URL: redis.url! } };
    case "peer + headers + log":
      return { script: peer, env: { NODE_ENV: "production", REDIS_URL: redis.url!, PEER_EXTRAS: "1" } };
    case "ceiling":
      return { script: ["--import", TSX, path.join(__dirname, "ceiling-app.ts")], env: { NODE_ENV: "production" } };
  }
}

/**
 * Starts a target, pins it to `cpu` (when taskset is there), and signs in. `nodeArgs` go before
 * the script (`--cpu-prof`); `dist` is the build the product runs (this checkout's by default). Request logs go where production sends them, here to /dev/null
 * (or to the file BENCH_LOG names, each server in turn overwriting it, to see why one failed).
 */
export async function startTarget(
  name: TargetName,
  redis: { url?: string; clusterNodes?: string },
  options: { cpu?: number; nodeArgs?: string[]; env?: Record<string, string>; dist?: string; label?: string; account?: string } = {},
): Promise<RunningTarget> {
  const { script, env } = launchOf(name, redis, options.dist ?? path.join(ROOT, "dist"));
  const port = await freePort();
  // Its mail (the sign-up link) goes to the bench's SMTP server, with links to where it listens.
  if (name.startsWith("product")) Object.assign(env, { SMTP_URL: (await benchMail()).url, PUBLIC_URL: `https://127.0.0.1:${port}` });
  const signIn = name.startsWith("product") ? (base: string) => productSignIn(base, options.account) : name === "ceiling" ? async () => ({}) : peerSignIn;
  return startServer({
    name,
    label: options.label,
    script,
    env: { ...env, ...options.env },
    cpu: options.cpu,
    nodeArgs: options.nodeArgs,
    page: "/dashboard",
    signIn,
    port,
  });
}

/**
 * Starts one server process on a free port (`script` after `nodeArgs`, `env` over this
 * process's), pins it to `cpu`, signs in with `signIn` (which gives the headers a signed-in
 * browser sends) and checks that `page` then answers 200.
 */
export async function startServer(server: {
  name: string;
  label?: string;
  script: string[];
  env: Record<string, string>;
  cpu?: number;
  nodeArgs?: string[];
  page: string;
  signIn(base: string): Promise<Record<string, string>>;
  /** Where it listens (a free port when not given). */
  port?: number;
}): Promise<RunningTarget> {
  const { name, page } = server;
  const port = server.port ?? (await freePort());
  const child = spawn(process.execPath, [...(server.nodeArgs ?? []), ...server.script], {
    cwd: ROOT,
    env: { ...process.env, ...server.env, PORT: String(port) },
    stdio: ["ignore", openSync(process.env.BENCH_LOG ?? "/dev/null", "w"), "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGINT");
    });
  try {
    await waitForHttp(`${base}${page}`, child);
    if (server.cpu !== undefined) pin(child.pid!, server.cpu);
    const headers = await server.signIn(base);
    const check = await fetch(`${base}${page}`, { headers, redirect: "manual" });
    if (check.status !== 200) throw new Error(`${name}: the signed-in page answered ${check.status} (${check.headers.get("location") ?? ""})`);
    await check.text();
    return { name, label: server.label ?? name, base, page, headers, child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU time (user + system) a process has used, in microseconds; NaN where /proc is missing. */
export function cpuTimeUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

export function pin(pid: number, cpu: number): void {
  if (HAS_TASKSET) spawnSync("taskset", ["-a", "-cp", String(cpu), String(pid)], { stdio: "ignore" });
}

/** `npm run build`: the site and the package with its views, as the benchmarks run them. */
export function buildProduct(): void {
  const built = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0) throw new Error("build failed");
}

/** Waits for the server to answer; fails at once if its process exits first (a build without its node_modules, a bad setting). */
async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server for ${url} exited (${child.exitCode}) before it answered`);
    try {
      await fetch(url, { redirect: "manual" });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every cookie a response sets, as a browser sends them back ("a=1; b=2"). */
function setCookieOf(res: Response): string {
  const set = res.headers.getSetCookie();
  if (set.length === 0) throw new Error(`no cookie from ${res.url} (${res.status})`);
  return set.map((c) => c.split(";")[0]).join("; ");
}

const HTTPS = { "x-forwarded-proto": "https" };

/** Loads a form page of the product and posts it (to `action`, by default the page itself) with its CSRF token, as a browser would. */
export async function submitForm(base: string, path: string, fields: Record<string, string>, action = path): Promise<Response> {
  const form = await fetch(`${base}${path}`, { headers: HTTPS });
  const visitor = setCookieOf(form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  return fetch(`${base}${action}`, {
    method: "POST",
    redirect: "manual",
    headers: { ...HTTPS, cookie: visitor, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
  });
}

/**
 * Signs in to the bench's account (`email`), signing it up first on a Redis that has none: the
 * sign-up mail arrives at the bench's SMTP server, and its link's page finishes the account and
 * signs in, as its owner would. (A build from before sign-up mailed a link signs in at once.)
 * Servers that share a Redis each take an account of their own: a sign-in to one account
 * would put a "new sign-in" notice on the pages of its earlier sessions, and so on one build's
 * pages and not another's.
 */
async function productSignIn(base: string, email = "ada@example.com"): Promise<Record<string, string>> {
  const account = { email, password: "correct horse battery" };
  let res = await submitForm(base, "/login", account);
  if (res.status !== 303) res = await productSignUp(base, account);
  if (res.status !== 303) throw new Error(`the bench's sign-in answered ${res.status}`);
  const headers = { ...HTTPS, cookie: setCookieOf(res) };
  // The first page views store a CSRF token; after that a page view writes nothing.
  for (let i = 0; i < 2; i++) await (await fetch(`${base}/dashboard`, { headers })).text();
  return headers;
}

async function productSignUp(base: string, account: { email: string; password: string }): Promise<Response> {
  const mail = await benchMail();
  const since = mail.received.length;
  const sent = await submitForm(base, "/signup", { name: "Ada Lovelace", ...account });
  if (sent.status !== 303) throw new Error(`the bench's sign-up answered ${sent.status}`);
  if (sent.headers.get("location")?.endsWith("/dashboard")) return sent;
  const link = /\/signup\/confirm\?t=[\w.~-]+/.exec((await mail.nextAbout(account.email, /./, since)).text ?? "")?.[0];
  if (!link) throw new Error("the sign-up mail has no link");
  return submitForm(base, link, { t: new URL(link, base).searchParams.get("t")!, password: account.password }, "/signup/confirm");
}

/** The SMTP server the product's mail goes to in the benchmarks, started at the first sign-up; stopMail() ends it. */
let mailServer: Promise<TestSmtp> | undefined;
const benchMail = () => (mailServer ??= startSmtp());
export async function stopMail(): Promise<void> {
  await (await mailServer)?.stop();
  mailServer = undefined;
}

async function peerSignIn(base: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/login`, { method: "POST", redirect: "manual" });
  return { cookie: setCookieOf(res) };
}
