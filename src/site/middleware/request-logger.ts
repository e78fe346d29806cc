import type { RequestHandler } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../../package";

/**
 * One line per request, written when the response is done: method, path, status, time, the
 * user id and the session's public handle. Neither headers nor the query are logged: the
 * Cookie header holds the session id, and a link from a mail carries its token in the query. (pino-http does the same job with a child logger and a request serializer
 * per request, which cost a third of the throughput of a signed-in page here; see
 * docs/benchmarks.md.)
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once("finish", () => {
      const status = res.statusCode;
      const line = {
        method: req.method,
        url: withoutQuery(req.originalUrl),
        status,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        userId: req.sessionUser?.id ?? null,
        session: req.sessionUser?.sessionHandle ?? null,
      };
      if (status >= 500) logger.error(line, "request failed");
      else if (status >= 400) logger.warn(line, "request completed");
      else logger.info(line, "request completed");
    });
    next();
  };
}

function withoutQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

/** Route labels one process keeps; any further one is counted as "other", so a scrape stays small whatever is requested. */
const MAX_ROUTE_LABELS = 200;

/**
 * Request durations for the metrics, by route pattern ("/settings/sessions/:id/revoke") and
 * status class, never by the URL itself: a handle or an email is not a label. Express matches
 * paths case-insensitively, so the mount is lowercased (`/SeTtInGs/sessions` is
 * `/settings/sessions`), and the set of labels is bounded.
 */
export function requestDurations(metrics: Metrics): RequestHandler {
  const labels = new Set<string>();
  const bounded = (route: string) => {
    if (labels.has(route)) return route;
    if (labels.size >= MAX_ROUTE_LABELS) return "other";
    labels.add(route);
    return route;
  };
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once("finish", () => {
      const pattern = req.route?.path;
      const route =
        typeof pattern === "string" ? bounded(withMount(pattern, withoutQuery(req.originalUrl))) : /\.[a-z0-9]+$/i.test(req.path) ? "static" : "unmatched";
      metrics.requests.observe({ route, status: `${Math.floor(res.statusCode / 100)}xx` }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/**
 * The route pattern with the path its router is mounted at: by the time a response is done,
 * Express has put back `req.baseUrl`, so the mount is the part of the path the pattern does
 * not cover ("/sessions/:id/revoke" on "/settings/sessions/x/revoke": "/settings").
 */
function withMount(pattern: string, path: string): string {
  const segments = path.split("/").filter(Boolean);
  const covered = pattern.split("/").filter(Boolean).length;
  const mount = segments
    .slice(0, Math.max(0, segments.length - covered))
    .join("/")
    .toLowerCase();
  return mount ? `/${mount}${pattern}` : pattern;
}
