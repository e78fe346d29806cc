import { spawnSync } from "node:child_process";
import path from "node:path";
import request from "supertest";
import { loadConfig } from "../src/package/config";
import { type Backend, openBackend } from "../src/site/backend";
import { appOn, browser, newAccount, quietMail, SAFARI_IPHONE, signIn, signUp } from "./helpers/app";
import { type RedisServer, startRedisServer } from "./helpers/redis-server";

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/** The operators' commands run as operators run them, against a Redis of their own. */
describe("operators' command line", () => {
  let redis: RedisServer;
  let backend: Backend;
  let app: ReturnType<typeof appOn>;
  const run = (script: string, ...args: string[]) => {
    const env = { ...process.env, REDIS_URL: redis.url, NODE_ENV: "" };
    const result = spawnSync(TSX, [`src/site/cli/${script}.ts`, ...args], { cwd: ROOT, env, encoding: "utf8" });
    return { code: result.status, out: result.stdout, err: result.stderr };
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = loadConfig({ REDIS_URL: redis.url, SESSION_SECRET: "cli-secret-cli-secret-cli-secret-cli" });
    backend = await openBackend(config, { events: quietMail });
    app = appOn(config, backend);
  });
  afterAll(async () => {
    await backend?.close();
    await redis?.stop();
  });

  test("when sessions are listed and all revoked by email, then the table shows them and the devices are signed out", async () => {
    const account = newAccount("Operator Olga");
    const laptop = browser(app);
    await signUp(laptop, account);
    const phone = browser(app, SAFARI_IPHONE);
    await signIn(phone, account);
    const list = run("sessions", "list", account.email.toUpperCase());
    expect(list.code).toBe(0);
    expect(list.out).toContain(`${account.email} (Operator Olga), 2 sessions`);
    expect(list.out).toMatch(/SESSION\s+DEVICE\s+TYPE\s+IP\s+LAST ACTIVE/);
    expect(list.out).toContain("Mobile Safari on iOS");
    expect(list.out).toContain("Chrome on Windows");
    const revoked = run("sessions", "revoke-all", account.email);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toContain(`Ended 2 sessions of ${account.email}.`);
    expect((await laptop.get("/dashboard")).status).toBe(303);
    expect((await phone.get("/dashboard")).status).toBe(303);
  });

  test("when an account is disabled from the command line, then it is signed out and cannot sign in until enabled", async () => {
    const account = newAccount();
    const device = browser(app);
    await signUp(device, account);
    const disabled = run("user-disable", account.email);
    expect(disabled.code).toBe(0);
    expect((await device.get("/dashboard")).status).toBe(303);
    expect((await signIn(browser(app), account)).status).toBe(403);
    expect(run("user-disable", account.email, "--enable").code).toBe(0);
    expect((await signIn(browser(app), account)).status).toBe(303);
    const role = run("user-role", account.email, "admin");
    expect(role.out).toContain(`${account.email} is now admin (was user).`);
  });

  test("when the email is wrong or the command is incomplete, then it exits non-zero with a clear message", async () => {
    for (const [script, args] of [
      ["sessions", ["list", "nobody@example.com"]],
      ["user-disable", ["nobody@example.com"]],
      ["user-role", ["nobody@example.com", "admin"]],
    ] as const) {
      const r = run(script, ...args);
      expect(r.code).toBe(1);
      expect(r.err).toContain("No account with the email nobody@example.com.");
    }
    const usage = run("sessions", "explode");
    expect(usage.code).toBe(2);
    expect(usage.err).toContain("usage: npm run sessions");
    const noRedis = spawnSync(TSX, ["src/site/cli/sessions.ts", "list", "a@example.com"], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: "" },
      encoding: "utf8",
    });
    expect(noRedis.status).toBe(2);
    expect(noRedis.stderr).toContain("REDIS_URL is not set");
    expect((await request(app).get("/healthz")).status).toBe(200);
  });
});
