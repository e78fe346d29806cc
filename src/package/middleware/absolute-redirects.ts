import { randomBytes } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";

/**
 * Redirects a text browser follows without stopping. Default lynx waits about 2 s on a
 * relative `Location` ("Location URL is not absolute"), and 3 s more when a form's 303 leads
 * back to the page the person typed into ("Reloading document. Any form entries will be
 * lost!"), for every success of every form.
 *
 * The address is PUBLIC_URL's origin, the site's own, and only for a request that came to
 * that host: the Host header (or a trusted proxy's X-Forwarded-Host, by the app's
 * `trust proxy`, read the same way on Express 4 and 5) decides whether, never what. A request
 * to any other name keeps the relative path, which its browser resolves against the address
 * it used. A form's result on the page the form was on (its Referer's path) gets a fresh
 * query, `?done.1a2b3c4d`, which the page ignores: to the browser it is a new page, not that
 * one reloaded. It has no "=": lynx sends no Referer from an address whose query has one.
 */
export function absoluteRedirects(publicUrl: string): RequestHandler {
  const site = new URL(publicUrl);
  // One function for every response, reading its request from `this.req`: a page pays for
  // setting it, not for a closure of its own, and a second pass (track() and the pages'
  // router on one request) finds it set already.
  function location(this: Redirecting, url: string) {
    const own = this[LOCATION] ?? (Object.getPrototypeOf(this) as Response).location;
    let path = String(url);
    // A path of this site only: "//host" and "/\host" are other sites to a browser.
    if (!/^\/(?![/\\])/.test(path)) return own.call(this, url);
    const req = this.req;
    if (req.method === "POST" && pathOf(path) === refererPath(req, site)) path += `${path.includes("?") ? "&" : "?"}done.${randomBytes(4).toString("hex")}`;
    return own.call(this, cameTo(req, site) ? `${site.origin}${path}` : path);
  }
  return (_req, res, next) => {
    const redirecting = res as Redirecting;
    if (redirecting.location !== location) {
      // A location of the site's own on this response (not Express's) is kept, and called.
      if (Object.hasOwn(redirecting, "location")) redirecting[LOCATION] = redirecting.location;
      redirecting.location = location as Response["location"];
    }
    next();
  };
}

const LOCATION = Symbol("the response's location before the package's");
type Redirecting = Response & { [LOCATION]?: Response["location"] };

const pathOf = (pathAndQuery: string) => pathAndQuery.split(/[?#]/)[0];

/** The path of the page a form was sent from, when the browser says and it is on this site. */
function refererPath(req: Request, site: URL): string | null {
  const referer = req.get("referer");
  if (!referer) return null;
  try {
    const from = new URL(referer, site);
    return from.host === (hostOf(req) ?? site.host) || from.host === site.host ? from.pathname : null;
  } catch {
    return null;
  }
}

/** The host the request was addressed to: a trusted proxy's X-Forwarded-Host, or Host. */
function hostOf(req: Request): string | undefined {
  const trust = req.app?.get("trust proxy fn") as ((addr: string | undefined, i: number) => boolean) | undefined;
  const forwarded = req.get("x-forwarded-host");
  const host = forwarded && trust?.(req.socket.remoteAddress, 0) ? forwarded.split(",")[0]?.trim() : req.get("host");
  return host && /^[\w.:[\]-]+$/.test(host) ? host.toLowerCase() : undefined;
}

/** Whether the request was addressed to the site's own host (and port). */
function cameTo(req: Request, site: URL): boolean {
  const host = hostOf(req);
  if (!host) return false;
  try {
    // The same normalisation as the site's address: lower case, the scheme's default port dropped.
    return new URL(`${site.protocol}//${host}`).host === site.host;
  } catch {
    return false;
  }
}
