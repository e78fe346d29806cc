import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request } from "express";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import { handleOf } from "../session-store/session-record";

/**
 * One line per request with the user id and the session's public handle. Headers are not
 * logged: the Cookie header holds the session id, which must never reach a log.
 */
export function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customProps: (req: IncomingMessage, _res: ServerResponse) => {
      const r = req as Request;
      return {
        userId: r.user?.id ?? r.session?.userId ?? null,
        session: r.session && r.sessionID ? handleOf(r.sessionID) : null,
      };
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
  });
}
