import type { Request, RequestHandler } from "express";
import type { Flash } from "../session-store/session-store";

/** Shows a message once, on the page a redirect leads to. */
export function setFlash(req: Request, kind: Flash["kind"], text: string): void {
  req.session.flash = { kind, text };
}

export const flash: RequestHandler = (req, res, next) => {
  res.locals.flash = null;
  // Only pages take the message: a HEAD or a POST that fails must not swallow it.
  if (req.method === "GET" && req.session?.flash) {
    res.locals.flash = req.session.flash;
    delete req.session.flash;
  }
  next();
};
