import { randomBytes } from "node:crypto";
import type { Request } from "express";
import { recordActivity } from "./activity/record";
import { takeOnce } from "./auth/password-throttle";
import { safeNext } from "./auth/safe-next";
import { announceSignIn, startSession } from "./auth/sign-in";
import { deviceNameOf, nameNewId, refreshSession, regenerate, seriesOf } from "./middleware/current-user";
import { clearExpiryCookie, setExpiryCookie } from "./middleware/ending-notice";
import { clearSessionCookie } from "./middleware/session";
import type { Parts } from "./session-parts";
import { peekState, stateOf } from "./session-store/session-store";
import { endOtherSessions, endSession } from "./sessions/end-sessions";
import { PENDING_SIGN_IN_MS } from "./sessions/session-pages";
import type { Sessions } from "./surface";
import { accountLabel, type SessionAccount, snapshotOf } from "./users/account";

/** Signing in with the package (`signIn`, and the choice at the cap that completes one). */
export function signInVerbs(p: Parts): Pick<Sessions, "signIn" | "completeSignIn"> {
  const { accounts, config, store, now, claims } = p;
  return {
    async signIn(req, given, { remember = false, next: asked } = {}) {
      // A form's `next` is the visitor's to set: only a path on this site is followed.
      const next = safeNext(asked, "/");
      // The account as findById gives it, whatever object the site passed: the credential
      // version and role a session starts with are then the ones every later refresh reads.
      const account = (await accounts.findById(given.id)) ?? given;
      // Signing in again where the account is signed in already: the browser's session moves
      // to a new id, and its device keeps its name; it is no other device to make room for.
      const again = req.sessionUser?.id === String(account.id) ? req.sessionUser.sessionHandle : undefined;
      const name = again ? await deviceNameOf(store, req) : null;
      const others = again === undefined ? [] : [again];
      if (
        config.sessionLimitPolicy === "ask" &&
        (await store.listUserSessions(account.id)).filter((s) => !others.includes(s.handle)).length >= config.maxSessionsPerUser
      ) {
        // The password was right: an authentication step, so the browser gets a new id now
        // (a session id planted before it cannot complete this sign-in).
        await regenerate(req);
        stateOf(req.session).pendingSignIn = {
          userId: account.id,
          remember,
          at: now(),
          next,
          credVersion: account.credentialVersion ?? 0,
          claim: randomBytes(16).toString("base64url"),
          ...(name ? { name } : {}),
        };
        return "choose";
      }
      // The same browser's session, signed in again: still the one an alert's link names.
      const keptName = await signInNow(p, req, account, remember, again ? seriesOf(req) : undefined);
      await nameNewId(store, req, name ?? keptName);
      return "signed-in";
    },
    async completeSignIn(req, beforeSignIn) {
      const pending = peekState(req.session)?.pendingSignIn;
      if (pending) delete stateOf(req.session).pendingSignIn;
      if (!pending || now() - pending.at > PENDING_SIGN_IN_MS) return false;
      const account = await accounts.findById(pending.userId);
      // A password change (or a disabled or deleted account) since the password was entered
      // voids the waiting sign-in: whoever entered it may be who the change was against.
      if (!account || account.disabled || (account.credentialVersion ?? 0) !== pending.credVersion) return false;
      // Once, whatever requests carry the same waiting sign-in at the same time.
      if (!(await takeOnce(claims, pending.claim))) return false;
      await beforeSignIn?.(account.id);
      const keptName = await signInNow(p, req, account, pending.remember);
      await nameNewId(store, req, pending.name ?? keptName);
      return true;
    },
  };
}

/**
 * A new session for the account on this request, its device remembered and its sign-in told.
 * Resolves to the name this browser's device had when it last signed out of the account.
 */
async function signInNow(p: Parts, req: Request, account: SessionAccount, remember: boolean, series?: string): Promise<string | null> {
  const { throttle, config, locate, store, activity, alertsOn, alerts, metrics, now } = p;
  const label = accountLabel(account.id, account.email);
  const known = throttle.devices.knownDevice(req, label, account.credentialVersion ?? 0) !== null;
  const keptName = throttle.devices.nameOf(req, label, account.credentialVersion ?? 0);
  await startSession(req, account, remember, config.lifetime, now(), locate, series);
  await announceSignIn(req, account, store, activity, now());
  if (!known && alertsOn) alerts.newDevice(req, account);
  if (req.res) {
    throttle.devices.remember(req, req.res, label, account.credentialVersion ?? 0);
    setExpiryCookie(req.res, config, now(), remember);
  }
  metrics?.created.inc();
  return keptName;
}

/** What a site does with a signed-in person's sessions: its account changed, sign out, end one or all others. */
export function sessionVerbs(
  p: Parts,
): Pick<
  Sessions,
  "accountChanged" | "dismissSignInNotice" | "signOut" | "getUserSessions" | "revokeSession" | "revokeAllOtherSessions" | "updateSessionActivity"
> {
  const { accounts, config, store, activity, now, metrics, locate, throttle } = p;
  const verbs: ReturnType<typeof sessionVerbs> = {
    async accountChanged(userId, req) {
      const account = await accounts.findById(userId);
      if (!account) {
        await store.endUserSessions(userId, undefined, { reason: "deleted", at: now() });
        return;
      }
      const snapshot = snapshotOf(account, now());
      await store.updateUserSnapshot(userId, snapshot);
      if (req?.sessionUser?.id === userId) stateOf(req.session).user = snapshot;
    },
    dismissSignInNotice(req) {
      const notice = peekState(req.session)?.user?.signIn;
      if (notice && peekState(req.session)!.noticeSeen !== notice.at) stateOf(req.session).noticeSeen = notice.at;
    },
    async signOut(req, res) {
      if (req.sessionUser) {
        await recordActivity(activity, req.sessionUser.id, req, "signed_out");
        metrics?.ended.inc({ reason: "sign_out" });
        // The device keeps its name for its next sign-in here (in the device cookie).
        const name = await deviceNameOf(store, req);
        const state = peekState(req.session);
        if (name && state?.user) throttle.devices.keepName(req, res, accountLabel(req.sessionUser.id, state.user.email), state.credVersion ?? 0, name);
      }
      await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      clearSessionCookie(res, config.cookieName);
      clearExpiryCookie(res, config);
      res.set("Clear-Site-Data", '"cookies"');
    },
    getUserSessions: (userId) => store.listUserSessions(userId),
    async revokeSession(req, handle, onBehalfOf) {
      if (onBehalfOf) return (await endSession(store, activity, req, onBehalfOf.userId, handle, onBehalfOf.by)) !== null;
      const ended = await endSession(store, activity, req, signedIn(req).id, handle);
      // The new-sign-in notice was about that session: it has been dealt with, everywhere.
      if (ended && peekState(req.session)?.user?.signIn?.session === ended.series) await verbs.accountChanged(signedIn(req).id, req);
      return ended !== null;
    },
    async revokeAllOtherSessions(req, onBehalfOf) {
      if (onBehalfOf) return endOtherSessions(store, activity, req, onBehalfOf.userId, undefined, onBehalfOf.by);
      const user = signedIn(req);
      const ended = await endOtherSessions(store, activity, req, user.id, user.sessionHandle);
      const notice = peekState(req.session)?.user?.signIn;
      if (notice && notice.session !== seriesOf(req)) await verbs.accountChanged(user.id, req);
      return ended;
    },
    async updateSessionActivity(req) {
      await refreshSession(req, accounts, config.lifetime, now(), locate);
    },
  };
  return verbs;
}

function signedIn(req: Request) {
  if (!req.sessionUser) throw new Error("not signed in: put requireAuth before this route");
  return req.sessionUser;
}
