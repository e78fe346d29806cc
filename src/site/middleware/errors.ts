import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { isRedisUnavailable, type Metrics } from "../../package";
import { classifyError, STATUS_TITLES } from "../../package/site-kit-entry";

/** An error whose message is safe to show: the page says it as it is. */
export class AppError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const notFound: RequestHandler = (_req, _res, next) => {
  next(new AppError(404, "There is nothing at this address."));
};

/** The one error handler: a friendly page (or JSON under /api/), never a stack trace. */
export function errorHandler(logger: Logger, metrics?: Metrics): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, message, code } = classifyError(err);
    if (status === 503 && isRedisUnavailable(err)) metrics?.unavailable.inc();
    // The path only: a link from a mail carries its token in the query.
    if (status >= 500) logger.error({ err, url: req.path }, "request failed");
    if (res.headersSent) return;
    res.status(status);
    if (status === 503) res.set("Retry-After", "5");
    if (req.originalUrl.startsWith("/api/")) {
      res.json({ error: code, message });
      return;
    }
    // An error before the usual middleware ran still renders the layout.
    res.locals.csrfToken ??= () => "";
    res.locals.flash ??= () => null;
    res.locals.currentUser ??= null;
    res.locals.path ??= req.path;
    res.locals.signInNotice ??= null;
    res.render("error", { title: STATUS_TITLES[status] ?? "Error", status, message }, (renderErr: Error | null, html?: string) => {
      if (renderErr) res.type("text").send(message);
      else res.send(html);
    });
  };
}
