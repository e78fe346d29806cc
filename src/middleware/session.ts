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

/** The session's content as express-session compares it: everything but the cookie. */
function contentOf(sess: object | undefined): string {
  if (!sess) return "";
  const { cookie: _cookie, ...data } = sess as Record<string, unknown>;
  return JSON.stringify(data);
}

/**
 * express-session sends a response's headers before its store write completes, so a browser
 * can follow a 303 before the new or changed session is stored, and arrive signed out or
 * without its message. Redirects here wait for the write when the session changed.
 */
export const saveBeforeRedirect: RequestHandler = (req, res, next) => {
  const loaded = req.session;
  const before = contentOf(loaded);
  const redirect = res.redirect.bind(res) as (...args: unknown[]) => void;
  res.redirect = ((...args: unknown[]) => {
    const sess = req.session;
    if (!sess || (sess === loaded && contentOf(sess) === before)) return redirect(...args);
    sess.save((err) => (err ? next(err) : redirect(...args)));
  }) as typeof res.redirect;
  next();
};

export function clearSessionCookie(res: Response, cookieName: string): void {
  res.clearCookie(cookieName, { httpOnly: true, sameSite: "lax", path: "/", secure: cookieName.startsWith("__Host-") });
}
