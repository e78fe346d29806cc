import path from "node:path";
import ejs from "ejs";
import express, { type Request, type Response, Router } from "express";
import asyncHandler from "express-async-handler";
import { describeActivity } from "../activity/describe-activity";
import { recordActivity } from "../activity/record";
import { withoutInvisibleCharacters } from "../control-characters";
import type { LinkClaims } from "../mail/mail-links";
import { userAgentOf } from "../middleware/client-info";
import { regenerate, seriesOf } from "../middleware/current-user";
import { setFlash, takeFlash } from "../middleware/flash";
import { forbidCaching } from "../middleware/page-locals";
import { isHandle } from "../session-store/session-record";
import { peekState } from "../session-store/session-store";
import type { SessionPagesOptions, Sessions } from "../surface";
import type { AccountSource } from "../users/account";
import { describeDevice } from "./device";
import { endNamedSession, findUserSession } from "./end-sessions";
import { answerRefusal } from "./password-checks";
import { sessionRows } from "./session-rows";

const PACKAGE_VIEWS = path.join(__dirname, "..", "views");
const NOT_FOUND = "That session was not found. It may have ended already.";
/** How long a sign-in may wait for its owner to choose a session to end. */
export const PENDING_SIGN_IN_MS = 10 * 60 * 1000;
/** The longest name a device may be given. */
const MAX_NAME_LENGTH = 40;
export const ACTIVITY_PAGE_SIZE = 20;

/** A `before` cursor from a query string: a positive whole number, or nothing. */
export function cursorOf(value: unknown): number | undefined {
  return typeof value === "string" && /^\d{1,16}$/.test(value) ? Number(value) : undefined;
}

/** What the "This wasn't me" pages take from createSessions' options. */
interface NotMeOptions {
  accounts: AccountSource;
  /** The site's `setPassword`: without it, the page ends the session and asks the person to change the password themselves. */
  setPassword?: (userId: string, password: string) => Promise<string | null>;
  /** What setPassword asks of a password, shown under the field. */
  passwordRules?: string;
}

/**
 * The package's own layout links its few rules; a site with a layout of its own styles the
 * pages itself. A file, never a wait for Redis: it goes before everything that may need it.
 */
export function packageStylesheet(): Router {
  return Router().get("/sessions.css", (_req, res) => {
    // A site that forbids caching before its routes: a stylesheet may be cached.
    res.removeHeader("Pragma");
    res.removeHeader("Expires");
    res.set("Cache-Control", "public, max-age=3600").type("text/css").sendFile(path.join(PACKAGE_VIEWS, "sessions.css"));
  });
}

/**
 * The sessions page (list, sign out one, sign out all others) and the activity page, under
 * wherever the site mounts the router: `app.use("/account", sessions.router())` serves
 * /account/sessions and /account/activity. Plain HTML forms; no script.
 */
export function sessionPages(sessions: Sessions, options: SessionPagesOptions, notMe: NotMeOptions): Router {
  const { store, passwordChecks, requireAuth, now, csrf } = sessions;
  const router = Router();
  router.use((_req, res, next) => {
    forbidCaching(res);
    next();
  });
  // A site that keeps its own sign-in keeps its own forms and their checks; the package's
  // forms are read and checked here.
  if (sessions.keepsSiteSignIn) router.use(express.urlencoded({ extended: false, limit: "16kb" }), csrf.protection);

  const page = pageRenderer(csrf, options);

  /** The sessions page; an `error` of one form comes with the field it belongs to (and what was typed there, never a password). */
  async function sessionsPage(req: Request, res: Response, status: number, error: string | null = null, fieldError: FieldError | null = null) {
    const user = req.sessionUser!;
    const rows = sessionRows(await store.listUserSessions(user.id), user.sessionHandle, now());
    const others = rows.filter((r) => !r.current).length;
    const askPassword = passwordChecks.needsPassword(req);
    // A field no longer on the page (its session ended meanwhile): the message goes above the list.
    const onPage = (at: string) =>
      at === "others" ? others > 0 : rows.some((r) => (!r.current || at.startsWith("name:") ? at.endsWith(`:${r.handle}`) : false));
    await page(req, res, status, "sessions", "Your sessions", {
      rows,
      others,
      askPassword,
      error,
      fieldError: fieldError && onPage(fieldError.at) ? fieldError : null,
    });
  }
  const back = (req: Request) => `${req.baseUrl}/sessions`;

  router.get(
    "/sessions",
    requireAuth,
    asyncHandler(async (req, res) => {
      // Reviewing the sessions is what the new-sign-in notice asks for: it stays away afterwards.
      sessions.dismissSignInNotice(req);
      await sessionsPage(req, res, 200);
    }),
  );

  router.post(
    "/sessions/revoke-others",
    requireAuth,
    asyncHandler(async (req, res) => {
      const outcome = await passwordChecks.withReauth(req, req.body?.password, () => sessions.revokeAllOtherSessions(req));
      if (outcome.refused) {
        await answerRefusal(res, outcome.refused, (status, message) => sessionsPage(req, res, status, message, { at: "others" }), sessions.signInPath);
        return;
      }
      const ended = outcome.value;
      setFlash(req, "success", ended === 1 ? "Signed out 1 other session." : `Signed out ${ended} other sessions.`);
      res.redirect(303, back(req));
    }),
  );

  router.post(
    "/sessions/:id/revoke",
    requireAuth,
    asyncHandler(async (req, res) => {
      const handle = req.params.id;
      if (!isHandle(handle)) return sessionsPage(req, res, 404, NOT_FOUND);
      if (handle === req.sessionUser!.sessionHandle || handle === seriesOf(req))
        return sessionsPage(req, res, 400, "That is this device. Use Sign out to end it.");
      const outcome = await passwordChecks.withReauth(req, req.body?.password, () => sessions.revokeSession(req, handle));
      if (outcome.refused) {
        await answerRefusal(
          res,
          outcome.refused,
          (status, message) => sessionsPage(req, res, status, message, { at: `revoke:${handle}` }),
          sessions.signInPath,
        );
        return;
      }
      if (!outcome.value) {
        // The new-sign-in notice's session ended some other way: the notice goes, and says so.
        if (peekState(req.session)?.user?.signIn?.session !== handle) return sessionsPage(req, res, 404, NOT_FOUND);
        await sessions.accountChanged(req.sessionUser!.id, req);
        setFlash(req, "info", "That session had ended already.");
        return res.redirect(303, back(req));
      }
      setFlash(req, "success", "Signed out that session.");
      res.redirect(303, back(req));
    }),
  );

  router.post(
    "/sessions/:id/name",
    requireAuth,
    asyncHandler(async (req, res) => {
      const handle = req.params.id;
      const name = typeof req.body?.name === "string" ? withoutInvisibleCharacters(req.body.name).trim() : null;
      if (name === null || name.length > MAX_NAME_LENGTH) {
        const typed = typeof req.body?.name === "string" ? req.body.name.slice(0, 200) : "";
        return sessionsPage(req, res, 400, `A device name is at most ${MAX_NAME_LENGTH} characters.`, { at: `name:${handle}`, typed });
      }
      if (!isHandle(handle) || !(await store.nameUserSession(req.sessionUser!.id, handle, name || null))) return sessionsPage(req, res, 404, NOT_FOUND);
      setFlash(req, "success", name ? `Named it "${name}".` : "The name was removed.");
      res.redirect(303, back(req));
    }),
  );

  choosePages(router, sessions, page);
  activityPage(router, sessions, page);
  notMePages(router, sessions, notMe, page);
  return router;
}

/**
 * Renders one of the package's pages: its view in the package's container, in the package's
 * own layout or in the site's (`layout`), with the package's own CSRF tokens, message and user.
 */
function pageRenderer(csrf: Sessions["csrf"], options: SessionPagesOptions): Page {
  return async (req, res, status, view, title, locals) => {
    // In the package's own layout the page's heading is its one h1; in a site's, the site has the h1.
    const standalone = !options.layout;
    // The package's own values for its views, whatever the site keeps under the same names.
    const own = {
      csrfToken: () => csrf.tokenFor(req, res),
      sessionsCsrfToken: () => csrf.ownTokenFor(req, res),
      flash: () => takeFlash(req),
      currentUser: req.sessionUser ?? null,
    };
    const shared = { ...res.locals, ...own, ...locals, title, base: req.baseUrl, standalone };
    // In the package's own container: sessions.css styles nothing outside it.
    const html = `<div class="user-sessions">\n${await ejs.renderFile(path.join(options.views ?? PACKAGE_VIEWS, `${view}.ejs`), shared)}</div>\n`;
    if (!options.layout) return res.status(status).send(await ejs.renderFile(path.join(PACKAGE_VIEWS, "layout.ejs"), { ...shared, body: html }));
    // The page's own message comes with it, whether or not the site's layout shows flash().
    const message = takeFlash(req);
    const body = message
      ? `<div class="user-sessions"><p class="flash flash-${message.kind}" role="status">${ejs.escapeXML(message.text)}</p></div>\n${html}`
      : html;
    res.status(status).render(options.layout, { ...locals, title, base: req.baseUrl, body });
  };
}

/** Which form of the sessions page an error belongs to, and what was typed in its field. */
interface FieldError {
  at: string;
  typed?: string;
}

type Page = (req: Request, res: Response, status: number, view: string, title: string, locals: Record<string, unknown>) => Promise<unknown>;

/**
 * SESSION_LIMIT_POLICY=ask: a sign-in at the cap waits here, in the visitor's session, for its
 * owner to pick the sessions to end. Nothing is signed in until they do.
 */
function choosePages(router: Router, sessions: Sessions, page: Page): void {
  const { store, config, now } = sessions;
  /** How many of `count` sessions must end for one more to fit under the cap. */
  const sessionsToEnd = (count: number) => Math.max(1, count - config.maxSessionsPerUser + 1);
  const pendingOf = (req: Request) => {
    const pending = peekState(req.session)?.pendingSignIn;
    return pending && now() - pending.at <= PENDING_SIGN_IN_MS ? pending : null;
  };
  async function choosePage(req: Request, res: Response, status: number, error: string | null = null) {
    const pending = pendingOf(req);
    if (!pending) return res.redirect(303, sessions.signInPath);
    const rows = sessionRows(await store.listUserSessions(pending.userId), null, now());
    const toEnd = sessionsToEnd(rows.length);
    await page(req, res, status, "choose", "Choose a session to end", {
      rows,
      toEnd,
      max: config.maxSessionsPerUser,
      error,
      cancel: sessions.signInPath,
      ownHeading: true,
    });
  }

  router.get(
    "/sessions/choose",
    asyncHandler((req, res) => choosePage(req, res, 200)),
  );

  router.post(
    "/sessions/choose",
    asyncHandler(async (req, res) => {
      const pending = pendingOf(req);
      if (!pending) return res.redirect(303, sessions.signInPath);
      const picked = new Set([req.body?.end].flat().filter((h): h is string => isHandle(h)));
      const theirs = new Set((await store.listUserSessions(pending.userId)).map((s) => s.handle));
      const toEnd = sessionsToEnd(theirs.size);
      // Distinct sessions: one picked twice is still one.
      if (picked.size < toEnd || [...picked].some((h) => !theirs.has(h))) {
        return choosePage(req, res, 400, toEnd === 1 ? "Choose a session to end." : `Choose ${toEnd} sessions to end.`);
      }
      const device = describeDevice(userAgentOf(req)).label;
      const next = pending.next;
      // Nothing is ended unless the sign-in will complete (still valid, and taken by this request only).
      const completed = await sessions.completeSignIn(req, async (userId) => {
        for (const handle of picked) await store.endUserSession(userId, handle, { reason: "other-device", at: Date.now(), device });
      });
      if (!completed) {
        setFlash(req, "info", "That sign-in can no longer be completed. Please sign in again.");
        return res.redirect(303, sessions.signInPath);
      }
      res.redirect(303, next);
    }),
  );
}

/** The account's security activity, newest first, a page at a time. */
function activityPage(router: Router, sessions: Sessions, page: Page): void {
  const { activity, requireAuth, config } = sessions;
  router.get(
    "/activity",
    requireAuth,
    asyncHandler(async (req, res) => {
      const list = await activity.list(req.sessionUser!.id, { before: cursorOf(req.query.before), limit: ACTIVITY_PAGE_SIZE });
      await page(req, res, 200, "activity", "Security activity", {
        rows: list.entries.map((e) => ({ ...describeActivity(e, sessions.locate), thisDevice: e.session === req.sessionUser!.sessionHandle })),
        next: list.next ?? null,
        first: req.query.before === undefined,
        retentionDays: Math.round(config.activityRetention / 86400),
      });
    }),
  );
}

/**
 * "This wasn't me", from a sign-in alert. Mail scanners open links, so a GET changes nothing:
 * it shows what the link is about and a form; the POST ends the session the link names (once,
 * within 7 days) and, when the site lets it, offers a new password on the spot (the link
 * proved the mailbox), which ends every session of the account.
 *
 * A link names its session by series (the handle it signed in with), so it finds the session
 * after its id has rotated, and carries the account's credential version: a password changed
 * since voids it. It is taken before it acts, and works the same in the browser it is about.
 */
function notMePages(router: Router, sessions: Sessions, { setPassword, accounts, passwordRules }: NotMeOptions, page: Page): void {
  const { store, activity, now, links } = sessions;
  const show = (req: Request, res: Response, status: number, step: string, locals: Record<string, unknown> = {}) =>
    page(req, res, status, "not-me", step === "done" ? "Password changed" : "Was this you?", {
      step,
      error: null,
      token: "",
      target: null,
      thisBrowser: false,
      signInPath: sessions.signInPath,
      passwordRules: passwordRules ?? null,
      fieldError: null,
      ownHeading: true,
      ...locals,
    });
  const refused = (req: Request, res: Response, claims: LinkClaims | "expired" | null) =>
    show(req, res, claims === "expired" ? 410 : 400, "refused", {
      error: claims === "expired" ? "This link has expired. Nothing was changed." : "This link is not valid. Nothing was changed.",
    });
  const usedAlready = (req: Request, res: Response) => show(req, res, 410, "refused", { error: "This link was used already. Nothing more was changed." });
  const outdated = (req: Request, res: Response) =>
    show(req, res, 410, "refused", {
      error: "This link no longer works: the account's password was changed (or the account was closed) after it was sent. Nothing was changed.",
    });

  /** The link's claims when it may act: signed, of this kind, unexpired, and made under the account's current password. */
  async function linkOf(req: Request, res: Response, token: unknown, kind: "not-me" | "password"): Promise<LinkClaims | null> {
    const claims = links.read(token, kind);
    if (claims === null || claims === "expired") {
      await refused(req, res, claims);
      return null;
    }
    const account = await accounts.findById(claims.userId);
    if (!account || (account.credentialVersion ?? 0) !== (claims.version ?? 0)) {
      await outdated(req, res);
      return null;
    }
    return claims;
  }

  /** This browser leaves a session that was just ended (its own was the one): it is a visitor again, with forms that work. */
  async function leaveEnded(req: Request, res: Response): Promise<void> {
    await regenerate(req);
    req.sessionUser = undefined;
    res.locals.currentUser = null;
  }

  router.get(
    "/sessions/not-me",
    asyncHandler(async (req, res) => {
      // The token is in this page's address: it goes to no other site as a referrer.
      res.setHeader("Referrer-Policy", "no-referrer");
      const claims = await linkOf(req, res, req.query.t, "not-me");
      if (!claims) return;
      if (await links.used(claims)) return void (await usedAlready(req, res));
      const found = await findUserSession(store, claims.userId, claims.session);
      const target = found ? (sessionRows([found], null, now())[0] ?? null) : null;
      await show(req, res, 200, "confirm", { token: req.query.t, target, thisBrowser: found !== null && found.handle === req.sessionUser?.sessionHandle });
    }),
  );

  router.post(
    "/sessions/not-me",
    asyncHandler(async (req, res) => {
      const claims = await linkOf(req, res, req.body?.t, "not-me");
      if (!claims) return;
      // Once, whatever requests carry the same link at the same time.
      if (!(await links.take(claims))) return void (await usedAlready(req, res));
      const target = await endNamedSession(store, claims.userId, claims.session, { reason: "alert", at: now() });
      if (target) {
        // The new-sign-in notice the other sessions show is about this sign-in unless one came after it.
        const live = await store.listUserSessions(claims.userId);
        if (!live.some((s) => s.createdAt > target.createdAt)) await sessions.accountChanged(claims.userId, req);
        await recordActivity(activity, claims.userId, req, "session_ended", {
          by: "you, from an email alert",
          device: describeDevice(target.userAgent).label,
          session: target.handle,
        });
      }
      const thisBrowser = target !== null && target.handle === req.sessionUser?.sessionHandle;
      if (thisBrowser) await leaveEnded(req, res);
      if (!setPassword) return void (await show(req, res, 200, "ended", { thisBrowser }));
      const token = links.make("password", claims.userId, { session: claims.session, version: claims.version ?? 0 });
      await show(req, res, 200, "password", { token, thisBrowser });
    }),
  );

  router.post(
    "/sessions/not-me/password",
    asyncHandler(async (req, res) => {
      if (!setPassword) return void (await refused(req, res, null));
      const claims = await linkOf(req, res, req.body?.t, "password");
      if (!claims) return;
      const password = typeof req.body?.password === "string" ? req.body.password : "";
      // Taken before the password is set: a link sets a password once, however many requests carry it.
      if (!(await links.take(claims))) return void (await usedAlready(req, res));
      const problem = password.length > 256 ? "That password is too long." : await setPassword(claims.userId, password);
      if (problem) {
        // The person tries again with a link of its own: the one they sent is used.
        const token = links.make("password", claims.userId, { session: claims.session, version: claims.version ?? 0 });
        return void (await show(req, res, 400, "password", { token, fieldError: problem }));
      }
      await sessions.accountChanged(claims.userId);
      await store.endUserSessions(claims.userId, undefined, { reason: "password", at: now() });
      await recordActivity(activity, claims.userId, req, "password_changed", { by: "you, from an email alert" });
      if (req.sessionUser?.id === claims.userId) await leaveEnded(req, res);
      await show(req, res, 200, "done");
    }),
  );
}
