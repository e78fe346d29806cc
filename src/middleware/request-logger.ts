import type { RequestHandler } from "express";
import type { Logger } from "pino";

/**
 * One line per request, written when the response is done: method, URL, status, time, the
 * user id and the session's public handle. Headers are never logged: the Cookie header holds
 * the session id. (pino-http does the same job with a child logger and a request serializer
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
        url: req.originalUrl,
        status,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        userId: req.user?.id ?? null,
        session: req.user?.sessionHandle ?? null,
      };
      if (status >= 500) logger.error(line, "request failed");
      else if (status >= 400) logger.warn(line, "request completed");
      else logger.info(line, "request completed");
    });
    next();
  };
}
