import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import request from "supertest";
import openapi from "../../src/site/api/openapi.json";
import { type Agent, type BackendKind, browser, createTestApp, newAccount, SAFARI_IPHONE, signIn, signUp, useTestApp } from "../helpers/app";
import { testClock } from "../helpers/stores";
import { backendKinds } from "../helpers/topology";

/** Checks a real response against the OpenAPI description of its operation and status. */
function expectMatchesSpec(method: string, path: string, res: { status: number; body: unknown }) {
  const operation = (
    openapi.paths as Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: { "application/json": { schema: object } } }> }>>
  )[path][method];
  const declared = operation.responses[String(res.status)];
  expect(declared).toBeDefined();
  const response = declared.$ref
    ? (openapi.components.responses as Record<string, { content: { "application/json": { schema: object } } }>)[declared.$ref.split("/").pop()!]
    : declared;
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) return;
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: "spec", components: openapi.components });
  const validate = ajv.compile({ $ref: `spec#${(schema as { $ref: string }).$ref.slice(1)}` });
  expect({ valid: validate(res.body), errors: validate.errors }).toEqual({ valid: true, errors: null });
}

async function apiClient(agent: Agent): Promise<string> {
  const me = await agent.get("/api/me");
  return me.body.csrfToken as string;
}

describe.each<BackendKind>(backendKinds())("JSON API (%s)", (kind) => {
  const ctx = useTestApp(kind);

  test("when a signed-in script asks for its account, sessions and activity, then the answers match the OpenAPI description", async () => {
    const account = newAccount();
    const agent = browser(ctx().app);
    await signUp(agent, account);
    await signIn(browser(ctx().app, SAFARI_IPHONE), account);
    const me = await agent.get("/api/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: account.name, email: account.email, role: "user" });
    expectMatchesSpec("get", "/api/me", me);
    const list = await agent.get("/api/sessions");
    expect(list.body.sessions).toHaveLength(2);
    expect(list.body.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expectMatchesSpec("get", "/api/sessions", list);
    const activity = await agent.get("/api/activity");
    expect(activity.body.entries[0].type).toBe("signed_in");
    expectMatchesSpec("get", "/api/activity", activity);
    const spec = await request(ctx().app).get("/api/openapi.json");
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toBe("3.1.0");
  });

  test("when a script ends another session with the token, then it is gone; without the token, 403 csrf_invalid", async () => {
    const account = newAccount();
    const agent = browser(ctx().app);
    await signUp(agent, account);
    const phone = browser(ctx().app, SAFARI_IPHONE);
    await signIn(phone, account);
    const token = await apiClient(agent);
    const other = (await agent.get("/api/sessions")).body.sessions.find((s: { current: boolean }) => !s.current).id;
    const noToken = await agent.delete(`/api/sessions/${other}`);
    expect(noToken.status).toBe(403);
    expect(noToken.body).toMatchObject({ error: "csrf_invalid" });
    expectMatchesSpec("delete", "/api/sessions/{id}", noToken);
    expect((await phone.get("/dashboard")).status).toBe(200);
    const ended = await agent.delete(`/api/sessions/${other}`).set("X-CSRF-Token", token);
    expect(ended.status).toBe(204);
    expect((await phone.get("/dashboard")).status).toBe(303);
    const again = await agent.delete(`/api/sessions/${other}`).set("X-CSRF-Token", token);
    expect(again.status).toBe(404);
    expectMatchesSpec("delete", "/api/sessions/{id}", again);
    const own = (await agent.get("/api/sessions")).body.sessions[0].id;
    const current = await agent.delete(`/api/sessions/${own}`).set("X-CSRF-Token", token);
    expect(current.status).toBe(400);
    expect(current.body.error).toBe("current_session");
  });

  test("when a script names another user's session, then the API answers 404 and ends nothing", async () => {
    const victim = browser(ctx().app);
    await signUp(victim);
    const victimSession = (await victim.get("/api/sessions")).body.sessions[0].id;
    const mallory = browser(ctx().app);
    await signUp(mallory);
    const token = await apiClient(mallory);
    const res = await mallory.delete(`/api/sessions/${victimSession}`).set("X-CSRF-Token", token);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("not_found");
    expect((await victim.get("/api/me")).status).toBe(200);
  });

  test("when a script ends all other sessions, then it learns how many; when signed out, 401 JSON", async () => {
    const account = newAccount();
    const agent = browser(ctx().app);
    await signUp(agent, account);
    await signIn(browser(ctx().app), account);
    await signIn(browser(ctx().app), account);
    const res = await agent.post("/api/sessions/revoke-others").set("X-CSRF-Token", await apiClient(agent));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ended: 2 });
    expectMatchesSpec("post", "/api/sessions/revoke-others", res);
    const anonymous = await request(ctx().app).get("/api/sessions");
    expect(anonymous.status).toBe(401);
    expectMatchesSpec("get", "/api/sessions", anonymous);
    const bad = await agent
      .post("/api/sessions/revoke-others")
      .set("X-CSRF-Token", await apiClient(agent))
      .set("Content-Type", "application/json")
      .send("{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("bad_request");
  });
});

describe("JSON API re-authentication and limits", () => {
  test("when a client passes the API rate limit, then it gets 429 rate_limited with Retry-After", async () => {
    const t = await createTestApp("embedded", { env: { API_RATE_LIMIT: "3" } });
    try {
      const agent = browser(t.app);
      await signUp(agent);
      for (let i = 0; i < 3; i++) expect((await agent.get("/api/me")).status).toBe(200);
      const limited = await agent.get("/api/me");
      expect(limited.status).toBe(429);
      expect(limited.body.error).toBe("rate_limited");
      expect(limited.headers["retry-after"]).toBeDefined();
      expectMatchesSpec("get", "/api/me", limited);
    } finally {
      await t.close();
    }
  });

  test("when the password is older than the window, then ending sessions answers 403 reauth_required until it is sent", async () => {
    const clock = testClock();
    const t = await createTestApp("redis", { env: { SESSION_REAUTH_WINDOW: "1" }, clock });
    try {
      const account = newAccount();
      const agent = browser(t.app);
      await signUp(agent, account);
      await signIn(browser(t.app), account);
      clock.advance(1100);
      const token = await apiClient(agent);
      const refused = await agent.post("/api/sessions/revoke-others").set("X-CSRF-Token", token);
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe("reauth_required");
      expectMatchesSpec("post", "/api/sessions/revoke-others", refused);
      const done = await agent.post("/api/sessions/revoke-others").set("X-CSRF-Token", token).send({ password: account.password });
      expect(done.body).toEqual({ ended: 1 });
    } finally {
      await t.close();
    }
  });
});
