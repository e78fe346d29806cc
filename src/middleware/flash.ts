import type { Request } from "express";
import type { Flash } from "../session-store/session-store";

/** Shows a message once, on the page a redirect leads to. */
export function setFlash(req: Request, kind: Flash["kind"], text: string): void {
  req.session.flash = { kind, text };
}

/**
 * The message, taken from the session. Views call it only when a page is rendered, so a
 * redirect (or a request that fails first) passes the message on untouched.
 */
export function takeFlash(req: Request): Flash | null {
  const message = req.session?.flash ?? null;
  if (message) delete req.session.flash;
  return message;
}
