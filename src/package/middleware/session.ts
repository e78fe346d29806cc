import type { NextFunction, RequestHandler, Response } from "express";
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
export function sessionMiddleware(config: Config, store: SessionStore) {
  return session({
    name: config.cookieName,
    secret: config.sessionSecrets,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    // Not "destroy": express-session would then destroy the session at the end of any
    // request whose session could not be read (req.session stays unset when the store
    // errs), so a Redis failover that failed one read would end the session for good.
    // Nothing here unsets req.session; ending a session is always an explicit destroy.
    unset: "keep",
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
 * express-session sends a response's headers before its store write completes, so a browser
 * can follow a 303 before the new or changed session is stored, and arrive signed out or
 * without its message. Redirects here wait for the write, for any session that holds data.
 * (A redirect on an unchanged session costs one write; comparing content on every request
 * would cost more.)
 */
export const saveBeforeRedirect: RequestHandler = (_req, res, next) => {
  // The response's own redirect is kept on it, and one shared function stands in: no closure per request.
  (res as Redirecting)[REDIRECT] = res.redirect as Redirecting[typeof REDIRECT];
  (res as Redirecting)[FAILED] = next;
  res.redirect = redirectAfterSave as Response["redirect"];
  next();
};

const REDIRECT = Symbol("the response's own redirect");
const FAILED = Symbol("where a failed save goes");
type Redirecting = Response & { [REDIRECT]: (...args: unknown[]) => void; [FAILED]: NextFunction };

function redirectAfterSave(this: Redirecting, ...args: unknown[]): void {
  const redirect = () => this[REDIRECT].apply(this, args);
  const sess = this.req.session;
  if (!sess || !Object.keys(sess).some((key) => key !== "cookie")) redirect();
  else sess.save((err) => (err ? this[FAILED](err) : redirect()));
}

export function clearSessionCookie(res: Response, cookieName: string): void {
  res.clearCookie(cookieName, { httpOnly: true, sameSite: "lax", path: "/", secure: cookieName.startsWith("__Host-") });
}
