import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import path from "node:path";
import { freePort } from "./helpers/redis-server";

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

function startServer(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; output: () => string; exit: Promise<number | null>; stop(): void } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REDIS_URL|SESSION_|NODE_ENV|PORT|HOST|TRUST_PROXY)/.test(k)));
  // Its own process group: tsx runs the server in a child of its own, and a test that fails
  // midway must stop both (stop() below), or the server outlives the run.
  const child = spawn(TSX, ["src/site/server.ts"], { cwd: ROOT, env: { ...clean, ...env } as NodeJS.ProcessEnv, detached: true });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  return { child, output: () => out, exit, stop };
}

async function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the server process", () => {
  test("when started without REDIS_URL, then it says so first, serves, and on SIGTERM finishes and exits 0", async () => {
    const port = await freePort();
    const server = startServer({ PORT: String(port) });
    try {
      await waitFor(() => server.output().includes("listening on"));
      const first = JSON.parse(server.output().split("\n")[0]);
      expect(first.msg).toMatch(/session store: embedded/);
      const res = await fetch(`http://127.0.0.1:${port}/login`);
      expect(res.status).toBe(200);
      const inFlight = fetch(`http://127.0.0.1:${port}/`).then((r) => r.status);
      server.child.kill("SIGTERM");
      expect(await inFlight).toBe(200);
      expect(await server.exit).toBe(0);
      expect(server.output()).toContain("stopped");
    } finally {
      server.stop();
    }
  });

  test("when REDIS_WAIT_REPLICAS asks for more replicas than answer in time, then the sign-up is answered and the log warns", async () => {
    const port = await freePort();
    // The throwaway test Redis has no replica, so every WAIT 1 gives up after its second.
    const server = startServer({ PORT: String(port), REDIS_URL: process.env.TEST_REDIS_URL!, REDIS_WAIT_REPLICAS: "1" });
    try {
      await waitFor(() => server.output().includes("listening on"));
      const base = `http://127.0.0.1:${port}`;
      const form = await fetch(`${base}/signup`);
      const cookie = form.headers.get("set-cookie")!.split(";")[0];
      const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
      const body = new URLSearchParams({ _csrf: token, name: "Wait Wanda", email: `wait-${Date.now()}@example.com`, password: "correct horse battery" });
      const res = await fetch(`${base}/signup`, { method: "POST", body, headers: { cookie }, redirect: "manual" });
      expect(res.status).toBe(303);
      // The mail, written to the log without SMTP_URL, carries the link that finishes the account and signs in.
      await waitFor(() => /\/signup\/confirm\?t=[A-Za-z0-9_.-]+/.test(server.output()));
      const link = /\/signup\/confirm\?t=[A-Za-z0-9_.-]+/.exec(server.output())![0];
      const page = await fetch(`${base}${link}`, { headers: { cookie } });
      const confirmToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
      const t = new URL(link, base).searchParams.get("t")!;
      const done = await fetch(`${base}/signup/confirm`, {
        method: "POST",
        body: new URLSearchParams({ _csrf: confirmToken, t, password: "correct horse battery" }),
        headers: { cookie },
        redirect: "manual",
      });
      expect(done.status).toBe(303);
      await waitFor(() => server.output().includes("REDIS_WAIT_REPLICAS"));
      const warning = server
        .output()
        .split("\n")
        .find((l) => l.includes("REDIS_WAIT_REPLICAS"))!;
      expect(JSON.parse(warning)).toMatchObject({ level: 40, acknowledged: 0, wanted: 1 });
      server.child.kill("SIGTERM");
      expect(await server.exit).toBe(0);
    } finally {
      server.stop();
    }
  });

  test("when NODE_ENV=production has no REDIS_URL, then it refuses to start and says what to set", async () => {
    const server = startServer({ NODE_ENV: "production", SESSION_SECRET: "x".repeat(40) });
    expect(await server.exit).toBe(1);
    expect(server.output()).toContain("REDIS_URL is required when NODE_ENV=production");
    expect(server.output()).not.toMatch(/at \w+ \(/);
  });

  test("when NODE_ENV=production has no SESSION_SECRET, then it refuses to start and says what to set", async () => {
    const server = startServer({ NODE_ENV: "production", REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:1" });
    expect(await server.exit).toBe(1);
    expect(server.output()).toContain("SESSION_SECRET is required when NODE_ENV=production");
  });

  test("when TRUST_PROXY=true, then it refuses to start and says what to set instead", async () => {
    const server = startServer({ TRUST_PROXY: "true" });
    expect(await server.exit).toBe(1);
    expect(server.output()).toContain("TRUST_PROXY=true would let any client choose its own IP address");
    expect(server.output()).not.toMatch(/at \w+ \(/);
  });
});
