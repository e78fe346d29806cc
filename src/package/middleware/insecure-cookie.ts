import type { RequestHandler } from "express";

/**
 * In production, a request over plain http (or a site's session cookie without `secure`) costs
 * more than it shows: browsers drop `Secure` and `__Host-` cookies on any host but localhost,
 * so the package's device cookie never sticks (every sign-in is a new device, and mails an
 * alert), its notices are lost, and a session cookie sent in the clear can be taken on the way.
 * Said once, at the first request that shows it: the site's cookie options are only seen there.
 */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/;

export function insecureCookieWarning(production: boolean, warn: (message: string) => void): RequestHandler {
  let warned = !production;
  // The Host of the last request found on loopback: a production build tried there (or
  // measured there) asks no more of the next one with the same Host than to compare it.
  let loopbackHost: string | undefined;
  return (req, _res, next) => {
    if (warned || (loopbackHost !== undefined && req.headers.host === loopbackHost && req.headers["x-forwarded-host"] === undefined)) return next();
    // The host is looked at last: a site served as it should be (https, a secure cookie) pays only for the first two.
    if (!req.secure || (req.session !== undefined && req.session.cookie?.secure !== true)) {
      if (LOOPBACK.test(req.hostname)) {
        if (req.headers["x-forwarded-host"] === undefined) loopbackHost = req.headers.host;
        return next();
      }
      warned = true;
      warn(
        `Production without https: ${req.secure ? "the site's session cookie is not `secure`" : `a request came over plain http (to ${req.hostname})`}. ` +
          "Browsers drop the package's __Host- cookies there, so every sign-in counts as a new device and mails an alert, and a cookie sent in the clear can be taken. " +
          'Serve over https; behind a proxy that ends TLS, set app.set("trust proxy", ...) and cookie: { secure: true } (docs/adopting.md, "Behind plain http").',
      );
    }
    next();
  };
}
