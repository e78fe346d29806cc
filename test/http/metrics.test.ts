import { spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import request from "supertest";
import { createMetrics, type PromMetrics as Metrics } from "../../src/package/metrics";
import { OPERATOR } from "../../src/site/cli/cli";
import { serveMetrics } from "../../src/site/metrics-server";
import { setRole } from "../../src/site/users/account-admin";
import { browser, createTestApp, newAccount, SAFARI_IPHONE, signIn, signUp, submit, type TestApp } from "../helpers/app";
import { backendKinds } from "../helpers/topology";

const HAS_PROMTOOL = spawnSync("promtool", ["--version"]).status === 0;

/** One counter's value for these labels, from the registry as a scrape would read it. */
async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
    m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })),
  );
  const match = all.find((v) => v.name === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}

describe.each(backendKinds())("Prometheus metrics (%s)", (kind) => {
  let t: TestApp;
  let metrics: Metrics;
  beforeAll(async () => {
    metrics = createMetrics();
    t = await createTestApp(kind, { metrics });
  });
  afterAll(() => t.close());

  test("when a scripted journey runs, then each counter moves by what happened", async () => {
    const admin = newAccount("Admin Ada");
    await signUp(browser(t.app), admin);
    await setRole(t.deps.users, t.deps.kit, admin.email, "admin", OPERATOR);
    const adminBrowser = browser(t.app);
    await signIn(adminBrowser, admin);

    const account = newAccount();
    const laptop = browser(t.app);
    await signUp(laptop, account);
    const phone = browser(t.app, SAFARI_IPHONE);
    expect((await signIn(phone, { ...account, password: "not the password" })).status).toBe(422);
    await signIn(phone, account);
    const page = await laptop.get("/settings/sessions");
    const handle = /action="\/settings\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/.exec(page.text)![1];
    expect((await submit(laptop, "/settings/sessions", `/settings/sessions/${handle}/revoke`, {})).status).toBe(303);
    const user = (await t.deps.users.findByEmail(account.email))!;
    await signIn(browser(t.app), account);
    expect((await submit(adminBrowser, `/admin/users/${user.id}`, `/admin/users/${user.id}/sessions/revoke-all`, {})).status).toBe(303);
    expect((await submit(adminBrowser, "/dashboard", "/logout", {})).status).toBe(303);

    expect(await value(metrics, "session_sign_ins_total", { outcome: "ok" })).toBe(3);
    expect(await value(metrics, "session_sign_ins_total", { outcome: "wrong_password" })).toBe(1);
    // Two sign-ups and three sign-ins.
    expect(await value(metrics, "session_sessions_created_total")).toBe(5);
    expect(await value(metrics, "session_sessions_ended_total", { reason: "revoked" })).toBe(1);
    expect(await value(metrics, "session_sessions_ended_total", { reason: "admin" })).toBe(2);
    expect(await value(metrics, "session_sessions_ended_total", { reason: "sign_out" })).toBe(1);
    expect(await value(metrics, "session_sessions_net_created")).toBe(1);
    expect(await value(metrics, "http_request_duration_seconds_count", { route: "/settings/sessions/:id/revoke", status: "3xx" })).toBe(1);
    expect(await value(metrics, "session_store_operation_duration_seconds_count", { operation: "read" })).toBeGreaterThan(0);
    if (kind === "redis") {
      await metrics.registry.metrics();
      expect(await value(metrics, "session_cache_hits_total")).toBeGreaterThan(0);
    }
    // Labels never carry an address, a handle or an email.
    const text = await metrics.registry.metrics();
    expect(text).not.toContain(handle);
    expect(text).not.toContain(account.email);
    expect(text).not.toMatch(/127\.0\.0\.1|::ffff/);
  });

  test("when a router's mount is asked for in many spellings, then the route label is one, and the labels stay a bounded set", async () => {
    const agent = browser(t.app);
    await signUp(agent);
    const spellings = ["/SeTtInGs/sessions", "/SETTINGS/sessions", "/settings/SESSIONS", "/sEttings/sessions/"];
    for (const path of spellings) expect((await agent.get(path)).status).toBe(200);
    for (let i = 0; i < 300; i++) await agent.get(`/no-such-page-${i}`);
    const routes = new Set(
      (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === "http_request_duration_seconds")!.values.map((v) => String(v.labels.route)),
    );
    expect([...routes].filter((r) => r.toLowerCase() === "/settings/sessions")).toEqual(["/settings/sessions"]);
    expect(routes.size).toBeLessThanOrEqual(202);
  });

  test("when /metrics is asked of the site, then it is not there; on its own listener it is, and promtool accepts it", async () => {
    expect((await request(t.app).get("/metrics")).status).toBe(404);
    const listener = await serveMetrics(metrics, "127.0.0.1", 0);
    try {
      const { port } = listener.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain("# HELP session_sign_ins_total");
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      if (HAS_PROMTOOL) {
        // A parse error fails outright; lint findings are listed. prom-client's own default
        // gauges are named nodejs_active_*_total, which promtool's lint flags; ours pass.
        const check = spawnSync("promtool", ["check", "metrics"], { input: text });
        const findings = `${check.stdout}${check.stderr}`
          .split("\n")
          .filter(Boolean)
          .filter((line) => !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(line));
        expect(findings).toEqual([]);
      } else process.stderr.write("promtool not found (Debian: apt-get install prometheus): exposition not checked by promtool\n");
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});
