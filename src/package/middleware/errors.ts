import type { Response } from "express";
import { isRedisUnavailable } from "../redis/unavailable";

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

/** Short words for a status, when an error brings no message of its own that may be shown. */
export const STATUS_TITLES: Record<number, string> = {
  400: "That request could not be understood",
  401: "Please sign in",
  403: "Not allowed",
  404: "Page not found",
  413: "That was too much to send",
  429: "Too many attempts",
  500: "Something went wrong",
  503: "Temporarily unavailable",
};

export function apiError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}

/**
 * What an error means for the person who sent the request: its status, a message that may be
 * shown, and the API's code. Errors that say their message may be shown (`expose`, as
 * http-errors makes them: a 404 of the site's, a full hashing queue) keep it; a forged form,
 * a body too large and Redis out of reach have words of their own; anything else is a 500
 * whose details stay in the log.
 */
export function classifyError(err: unknown): { status: number; message: string; code: string } {
  const known = (status: number, message: string, code = API_CODES[status] ?? "bad_request") => ({ status, message, code });
  const e = err as { code?: string; type?: string; status?: number; expose?: boolean; message?: string };
  if (e?.code === "EBADCSRFTOKEN") {
    return known(403, "This form has expired or did not come from this site. Go back, reload the page and try again.", "csrf_invalid");
  }
  if (e?.type === "entity.too.large") return known(413, "The form sent more data than this site accepts.");
  if (e?.expose === true && typeof e.status === "number" && e.status >= 400 && e.status < 600 && typeof e.message === "string") {
    return known(e.status, e.message);
  }
  if (isRedisUnavailable(err)) {
    return known(503, "The session service cannot be reached right now. Nothing was lost; please try again in a moment.");
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return known(e.status, STATUS_TITLES[e.status] ?? "That request could not be handled.");
  }
  return known(500, "An unexpected error occurred. It has been logged; please try again.");
}
