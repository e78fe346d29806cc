import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../metrics";
import { isRedisUnavailable } from "../redis/client";
import { HashingBusyError } from "../users/password";

/** An error whose message is safe to show: the page says it as it is. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TITLES: Record<number, string> = {
  400: "That request could not be understood",
  401: "Please sign in",
  403: "Not allowed",
  404: "Page not found",
  413: "That was too much to send",
  429: "Too many attempts",
  500: "Something went wrong",
  503: "Temporarily unavailable",
};

/** The stable error codes of the JSON API, by status (CSRF failures have their own). */
const API_CODES: Record<number, string> = {
  400: "bad_request",
  401: "not_signed_in",
  403: "forbidden",
  404: "not_found",
  413: "too_large",
  429: "rate_limited",
  500: "internal",
  503: "unavailable",
};

export function apiError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}

export function classifyError(err: unknown): { status: number; message: string; code: string } {
  const known = (status: number, message: string, code = API_CODES[status] ?? "bad_request") => ({ status, message, code });
  if (err instanceof AppError) return known(err.status, err.message);
  const e = err as { code?: string; type?: string; status?: number; expose?: boolean };
  if (e?.code === "EBADCSRFTOKEN") {
    return known(403, "This form has expired or did not come from this site. Go back, reload the page and try again.", "csrf_invalid");
  }
  if (e?.type === "entity.too.large") return known(413, "The form sent more data than this site accepts.");
  if (err instanceof HashingBusyError) return known(503, err.message);
  if (isRedisUnavailable(err)) {
    return known(503, "The session service cannot be reached right now. Nothing was lost; please try again in a moment.");
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return known(e.status, TITLES[e.status] ?? "That request could not be handled.");
  }
  return known(500, "An unexpected error occurred. It has been logged; please try again.");
}

export const notFound: RequestHandler = (_req, _res, next) => {
  next(new AppError(404, "There is nothing at this address."));
};

/** The one error handler: a friendly page (or JSON under /api/), never a stack trace. */
export function errorHandler(logger: Logger, metrics?: Metrics): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, message, code } = classifyError(err);
    if (status === 503 && isRedisUnavailable(err)) metrics?.unavailable.inc();
    if (status >= 500) logger.error({ err, url: req.originalUrl }, "request failed");
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
    res.render("error", { title: TITLES[status] ?? "Error", status, message }, (renderErr: Error | null, html?: string) => {
      if (renderErr) res.type("text").send(message);
      else res.send(html);
    });
  };
}
