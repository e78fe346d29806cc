import type { RequestHandler, Response } from "express";
import session from "express-session";
import type { Config } from "../config";
import type { SessionStore } from "../session-store/session-store";

/**
 * express-session with an opaque signed cookie (192 random bits, express-session's default id).
 * Cookie flags follow the contract; in production it is Secure and named __Host-sid.
 * Behind a proxy, Express's `trust proxy` (TRUST_PROXY) decides whether the request was HTTPS.
 * Not rolling: the store slides the expiry at most once per update age, and the cookie of a
 * remembered session is re-sent only then.
 */
export function sessionMiddleware(config: Config, store: SessionStore, cookieName: string) {
  return session({
    name: cookieName,
    secret: config.sessionSecrets,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: "destroy",
    cookie: {
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      secure: config.production,
      maxAge: undefined,
    },
  });
}

/**
 * Notes whether the request came with a session cookie, before express-session replaces an
 * unknown one: a signed-in page can then say "your session expired" instead of nothing.
 */
export function noteSessionCookie(cookieName: string): RequestHandler {
  const pattern = new RegExp(`(?:^|;\\s*)${cookieName.replace(/[^\w-]/g, "\\$&")}=`);
  return (req, res, next) => {
    res.locals.hadSessionCookie = pattern.test(req.headers.cookie ?? "");
    next();
  };
}

export function clearSessionCookie(res: Response, cookieName: string): void {
  res.clearCookie(cookieName, { httpOnly: true, sameSite: "lax", path: "/", secure: cookieName.startsWith("__Host-") });
}
