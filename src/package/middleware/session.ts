import type { RequestHandler, Response } from "express";
import session, { type SessionData, type Store } from "express-session";
import type { Config } from "../config";
import { peekState, type SessionStore } from "../session-store/session-store";

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
 * without its message. Redirects here wait for the write, for any session of this store that
 * holds data. (A redirect on an unchanged session costs one write; comparing content on every
 * request would cost more.)
 *
 * The site's response prototype (Express's `app.response`) gets the waiting redirect once, at
 * the first request: a property added to every response would cost each page an allocation
 * for the response's properties to grow. Responses of requests that no session of this store
 * passed keep the redirect they had.
 */
export function saveBeforeRedirect(store: Store): RequestHandler {
  return (_req, res, next) => {
    const proto = Object.getPrototypeOf(res) as Response & { [WAITING_STORES]?: Set<Store> };
    if (!Object.hasOwn(proto, WAITING_STORES)) {
      const redirect = proto.redirect as (this: Response, ...args: unknown[]) => void;
      const stores = new Set<Store>();
      Object.defineProperty(proto, WAITING_STORES, { value: stores });
      proto.redirect = function redirectAfterSave(this: Response, ...args: unknown[]) {
        const go = () => redirect.apply(this, args);
        const sess = this.req.session;
        if (!sess || !stores.has(this.req.sessionStore) || !holdsData(sess)) go();
        // A failed write goes to the site's error handling, where Express's router left it on the request.
        else sess.save((err) => (err ? (this.req.next ? this.req.next(err) : this.status(500).end()) : go()));
      } as Response["redirect"];
    }
    proto[WAITING_STORES]!.add(store);
    next();
  };
}

const WAITING_STORES = Symbol("the session stores whose redirects wait for the write");

/** A session with something to store: the site's keys, or the package's state beside them. */
function holdsData(sess: SessionData): boolean {
  const state = peekState(sess);
  if (state) for (const _ in state) return true;
  for (const key in sess) if (key !== "cookie") return true;
  return false;
}

export function clearSessionCookie(res: Response, cookieName: string): void {
  res.clearCookie(cookieName, { httpOnly: true, sameSite: "lax", path: "/", secure: cookieName.startsWith("__Host-") });
}
