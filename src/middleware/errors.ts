import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";

/** An error whose message is safe to show: the page says it as it is. */
export class AppError extends Error {
  constructor(readonly status: number, message: string) {
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

/** Errors from the session and account backend while it cannot be reached. */
export function isBackendUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // node-redis names its errors by class (ClientOfflineError, ...), not by err.name.
  const text = `${err.constructor.name} ${err.name} ${err.message} ${(err as { code?: string }).code ?? ""}`;
  return /ClientOffline|ClientClosed|SocketClosed|ConnectionTimeout|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|client is (offline|closed)|Socket closed|LOADING|READONLY|CLUSTERDOWN|MASTERDOWN/.test(text);
}

function classify(err: unknown): { status: number; message: string } {
  if (err instanceof AppError) return { status: err.status, message: err.message };
  const e = err as { code?: string; type?: string; status?: number; expose?: boolean };
  if (e?.code === "EBADCSRFTOKEN") {
    return { status: 403, message: "This form has expired or did not come from this site. Go back, reload the page and try again." };
  }
  if (e?.type === "entity.too.large") return { status: 413, message: "The form sent more data than this site accepts." };
  if (isBackendUnavailable(err)) {
    return { status: 503, message: "The session service cannot be reached right now. Nothing was lost; please try again in a moment." };
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return { status: e.status, message: TITLES[e.status] ?? "That request could not be handled." };
  }
  return { status: 500, message: "An unexpected error occurred. It has been logged; please try again." };
}

export const notFound: RequestHandler = (_req, _res, next) => {
  next(new AppError(404, "There is nothing at this address."));
};

/** The one error handler: a friendly page (or JSON under /api/), never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, message } = classify(err);
    if (status >= 500) logger.error({ err, url: req.originalUrl }, "request failed");
    if (res.headersSent) return;
    res.status(status);
    if (status === 503) res.set("Retry-After", "5");
    if (req.path.startsWith("/api/")) {
      res.json({ error: message });
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
