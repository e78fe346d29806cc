import { recordActivity } from "./activity/record";
import { DeviceCookies } from "./auth/device-cookie";
import { openCounter, PasswordThrottle, takeOnce } from "./auth/password-throttle";
import { LINK_LIFETIMES_MS, MailLinks } from "./mail/mail-links";
import { openMailQueue } from "./mail/mail-queue";
import { signInAlerts } from "./mail/sign-in-alert";
import { absoluteRedirects } from "./middleware/absolute-redirects";
import { csrfProtection } from "./middleware/csrf";
import { endingNotice, sentSessionId, setExpiryCookie } from "./middleware/ending-notice";
import { insecureCookieWarning } from "./middleware/insecure-cookie";
import { pageLocals } from "./middleware/page-locals";
import { authGuards } from "./middleware/require-auth";
import { sessionRotation } from "./middleware/rotation";
import { peekState } from "./session-store/session-store";
import { passwordChecks } from "./sessions/password-checks";
import { PENDING_SIGN_IN_MS } from "./sessions/session-pages";
import type { Started } from "./start";
import type { SessionsOptions } from "./surface";
import { accountLabel } from "./users/account";

/** How long a session's wrong passwords (entered to confirm actions) are remembered. */
const SESSION_FAILURES_WINDOW_MS = 24 * 3600 * 1000;

/** Everything createSessions builds once, from its options and the start, that its verbs and middleware share. */
export type Parts = ReturnType<typeof partsOf>;

/**
 * The parts of the sessions, built once: the device cookies and the password throttle, the
 * one-time claims, CSRF, the password checks, the guards, mail and its alerts and links,
 * rotation, the page locals and the ending notice.
 */
export function partsOf(options: SessionsOptions, started: Started) {
  const { accounts, userIdOf } = options;
  const { config, backend, locate, warn } = started;
  const now = options.now ?? Date.now;
  const { metrics } = options;

  const devices = new DeviceCookies(config.tokenSecrets, config.production ? "__Host-device" : "device", config.production);
  const throttle = new PasswordThrottle(config, backend.rateLimitStore, devices);
  // Counted in the store, so that every instance sees one count.
  const sessionFailures = openCounter(backend.rateLimitStore, "rl:session:", SESSION_FAILURES_WINDOW_MS);
  const claims = openCounter(backend.rateLimitStore, "rl:claim:", PENDING_SIGN_IN_MS);
  const csrf = csrfProtection(config.tokenSecrets, config.production, now);
  const { store, activity } = backend;
  const checks = passwordChecks({
    accounts,
    names: store,
    activity,
    throttle,
    sessionFailures,
    lifetime: config.lifetime,
    reauthWindow: config.reauthWindow,
    now,
    locate,
    ownsCookie: userIdOf === undefined,
    onOutcome: metrics ? (outcome) => metrics.reauth.inc({ outcome }) : undefined,
    onRenewed: (req, account) => {
      if (!req.res) return;
      setExpiryCookie(req.res, config, now(), peekState(req.session)?.persistent === true);
      // After a password change this device stays known: its token is for the new credentials.
      throttle.devices.remember(req, req.res, accountLabel(account.id, account.email), account.credentialVersion ?? 0);
    },
  });
  const guards = authGuards(
    options.signInPath ?? "/login",
    options.forbidden ??
      ((_req, res) => {
        res.status(403).type("text").send("Your account's role does not allow this.");
      }),
    userIdOf !== undefined,
  );

  const mail = openMailQueue(config, options.mail, options.events, metrics);
  // Sign-in alerts go to accounts with an email, unless the site turned them off.
  const alertsOn = options.alerts !== false;
  const links = new MailLinks(config.tokenSecrets);
  const alerts = signInAlerts({
    store,
    mail,
    links,
    now,
    notMeUrl: `${config.publicUrl}${options.pagesAt ?? "/account"}/sessions/not-me`,
    siteName: options.siteName ?? new URL(config.publicUrl).host,
    offersPassword: options.setPassword !== undefined,
  });
  // Each link works once: its nonce is taken in the store, seen by every instance.
  const usedLinks = openCounter(backend.rateLimitStore, "rl:link:", LINK_LIFETIMES_MS["not-me"]);

  const identifyAs = { accounts, names: store, lifetime: config.lifetime, now, locate };
  // Stolen-cookie detection (SESSION_ROTATE_INTERVAL), for the sessions the package signs in.
  const rotation = sessionRotation({
    store,
    intervalMs: config.rotateInterval * 1000,
    graceMs: config.rotateGrace * 1000,
    secrets: config.tokenSecrets,
    now,
    sentId: (req) => sentSessionId(req, config.cookieName, config.sessionSecrets),
    claim: (key) => takeOnce(claims, key),
    async onStolen(req, userId, session, account) {
      await recordActivity(activity, userId, req, "session_stolen", { session });
      if (account && alertsOn) alerts.stolen(req, account);
    },
  });
  const siteCookieName = options.cookieName ?? "connect.sid";
  const locals = pageLocals(userIdOf ? siteCookieName : config.cookieName, csrf, (req) => checks.needsPassword(req));
  const noticeOfEnding = (cookieName: string, clear: Parameters<typeof endingNotice>[4]["clear"]) =>
    endingNotice(config, store, now, metrics ? (limit) => metrics.ended.inc({ reason: limit }) : undefined, { cookieName, clear });

  // Production over plain http, or a site's session cookie without `secure`: said once, at the first request that shows it.
  const warnOnce = insecureCookieWarning(config.production, warn);
  // A path redirect made absolute on PUBLIC_URL: text browsers follow it without a pause.
  const redirects = absoluteRedirects(config.publicUrl);
  return {
    ...started,
    options,
    accounts,
    userIdOf,
    now,
    metrics,
    store,
    activity,
    throttle,
    claims,
    csrf,
    checks,
    guards,
    mail,
    alertsOn,
    alerts,
    links,
    usedLinks,
    identifyAs,
    rotation,
    siteCookieName,
    locals,
    noticeOfEnding,
    warnOnce,
    redirects,
  };
}
