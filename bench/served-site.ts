import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import type { Config } from "../src/package/config";
import type { PromMetrics as Metrics } from "../src/package/metrics";
import { createApp } from "../src/site/app";
import type { Backend } from "../src/site/backend";
import { PasswordHasher } from "../src/site/users/password";

/**
 * The reference site served on a free port, and one browser for it: a cookie jar (the CSRF
 * cookie of the sign-up form, then the session and device cookies) that follows no redirect.
 */
export async function servedSite(config: Config, backend: Backend, metrics?: Metrics) {
  const app = createApp({ ...backend, config, logger: pino({ level: "silent" }), passwords: new PasswordHasher(), metrics });
  const server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jar = new Map<string, string>();
  const go = async (path: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const res = await fetch(base + path, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie } });
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  };
  /** Loads a page and sends its form with the page's CSRF token. */
  const form = async (path: string, fields: Record<string, string>) => {
    const page = await (await go(path)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    return go(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    });
  };
  return { go, form, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
