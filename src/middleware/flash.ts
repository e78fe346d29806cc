import type { Request, RequestHandler } from "express";
import type { Flash } from "../session-store/session-store";

/** Shows a message once, on the page a redirect leads to. */
export function setFlash(req: Request, kind: Flash["kind"], text: string): void {
  req.session.flash = { kind, text };
}

/**
 * Views call flash() where the message goes. It is taken from the session only when a page
 * is rendered, so a redirect (or a request that fails first) passes it on untouched.
 */
export const flash: RequestHandler = (req, res, next) => {
  res.locals.flash = (): Flash | null => {
    const message = req.session?.flash ?? null;
    if (message) delete req.session.flash;
    return message;
  };
  next();
};
