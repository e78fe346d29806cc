import ejs from "ejs";
import type { Request } from "express";
import { clientIp, userAgentOf } from "../middleware/client-info";
import { handleOf } from "../session-store/session-record";
import { peekState, type SessionStore } from "../session-store/session-store";
import { describeDevice } from "../sessions/device";
import { formatTime } from "../sessions/format-time";
import type { MailLinks } from "./mail-links";
import type { MailMessage, MailQueue } from "./mail-queue";

export interface SignInAlert {
  to: string;
  /** "Chrome on Windows" */
  device: string;
  ip: string;
  /** "Berlin, Germany", or null when unknown. */
  place: string | null;
  /** A country the account's other sessions are not in: said so. */
  newCountry: string | null;
  /** "2 Dec 2026, 09:14 UTC" */
  when: string;
  /** The "This wasn't me" link, absolute. */
  notMe: string;
  siteName: string;
  /** Whether the page behind the link offers a new password (the site gave `setPassword`). */
  offersPassword: boolean;
}

/**
 * The mail for a sign-in from a device the account had not used: plain text and the same in
 * HTML, no remote images. No mail carries the account's name: an address is never confirmed,
 * so a name chosen by whoever signed up (a URL, say) would reach someone else's mailbox.
 */
export function signInAlert(a: SignInAlert): MailMessage {
  const where = [a.place, a.ip].filter(Boolean).join(", ");
  const lines = [
    "Hello,",
    "",
    `Your ${a.siteName} account was signed in from a device it had not been used on before:`,
    "",
    `  ${a.device}`,
    `  ${where}`,
    `  ${a.when}`,
    ...(a.newCountry ? ["", `This is the first sign-in from ${a.newCountry} among your current sessions.`] : []),
    "",
    "If this was you, there is nothing to do.",
    "",
    `If it was not you, end that session at once${a.offersPassword ? " (and set a new password)" : ""} here:`,
    a.notMe,
    "",
    "The link works once, for 7 days. Opening it changes nothing until you confirm on the page.",
  ];
  const e = ejs.escapeXML;
  const html = [
    "<p>Hello,</p>",
    `<p>Your ${e(a.siteName)} account was signed in from a device it had not been used on before:</p>`,
    `<p><strong>${e(a.device)}</strong><br>${e(where)}<br>${e(a.when)}</p>`,
    ...(a.newCountry ? [`<p><strong>This is the first sign-in from ${e(a.newCountry)} among your current sessions.</strong></p>`] : []),
    "<p>If this was you, there is nothing to do.</p>",
    `<p>If it was not you, <a href="${e(a.notMe)}">end that session at once${a.offersPassword ? " (and set a new password)" : ""}</a>.</p>`,
    "<p>The link works once, for 7 days. Opening it changes nothing until you confirm on the page.</p>",
  ].join("\n");
  return { to: a.to, subject: `New sign-in to your ${a.siteName} account: ${a.device}`, text: lines.join("\n"), html };
}

interface AlertDeps {
  store: SessionStore;
  mail: MailQueue;
  links: MailLinks;
  now: () => number;
  /** The absolute address of the "This wasn't me" page. */
  notMeUrl: string;
  siteName: string;
  /** Whether that page offers a new password (the site gave `setPassword`). */
  offersPassword: boolean;
}

/** Sign-in alerts: one mail per sign-in from a device the account had not used, sent beside the request. */
export function signInAlerts(deps: AlertDeps) {
  return {
    /** A session's cookie was used by two parties: the owner is told, from the request that showed it. */
    stolen(req: Request, account: { email?: string | null }): void {
      if (!account.email) return;
      deps.mail.enqueue(
        stolenCookieAlert({
          to: account.email,
          device: describeDevice(userAgentOf(req)).label,
          ip: clientIp(req),
          when: formatTime(deps.now()),
          siteName: deps.siteName,
        }),
      );
    },
    /** After the session of this request signed in: the mail is queued; nothing here fails or delays the sign-in. */
    newDevice(req: Request, account: { id: string; email?: string | null; credentialVersion?: number }): void {
      const to = account.email;
      if (!to) return;
      const state = peekState(req.session);
      const session = handleOf(req.sessionID);
      // The link names the session by its series, which its id rotations keep, and dies with a password change.
      const series = state?.series ?? session;
      const place = state?.location ?? null;
      const at = deps.now();
      void newCountryOf(deps.store, String(account.id), session, place)
        .catch(() => null)
        .then((newCountry) => {
          const token = deps.links.make("not-me", String(account.id), series, at, account.credentialVersion ?? 0);
          deps.mail.enqueue(
            signInAlert({
              to,
              device: describeDevice(userAgentOf(req)).label,
              ip: clientIp(req),
              place,
              newCountry,
              when: formatTime(at),
              notMe: `${deps.notMeUrl}?t=${token}`,
              siteName: deps.siteName,
              offersPassword: deps.offersPassword,
            }),
          );
        });
    },
  };
}

/** The mail after a session was ended because its cookie was used by two parties. */
export function stolenCookieAlert(a: { to: string; device: string; ip: string; when: string; siteName: string }): MailMessage {
  const text = [
    "Hello,",
    "",
    `At ${a.when}, a copy of the cookie of one of your ${a.siteName} sessions was used by a second browser (${a.device}, ${a.ip}).`,
    "That session has been ended for both. Sign in again on your own device.",
    "",
    "A copied cookie means something on that device or network could read it: if you did not expect this, change your password and check the device.",
  ].join("\n");
  const e = ejs.escapeXML;
  const html = [
    "<p>Hello,</p>",
    `<p>At ${e(a.when)}, a copy of the cookie of one of your ${e(a.siteName)} sessions was used by a second browser (${e(a.device)}, ${e(a.ip)}).</p>`,
    "<p>That session has been ended for both. Sign in again on your own device.</p>",
    "<p>A copied cookie means something on that device or network could read it: if you did not expect this, change your password and check the device.</p>",
  ].join("\n");
  return { to: a.to, subject: `A session of your ${a.siteName} account was ended: its cookie was copied`, text, html };
}

/** The country of `place` when none of the account's other sessions is there (and they are somewhere known). */
async function newCountryOf(store: SessionStore, userId: string, session: string, place: string | null): Promise<string | null> {
  const country = place?.split(", ").at(-1);
  if (!country) return null;
  const others = (await store.listUserSessions(userId)).filter((s) => s.handle !== session && s.location);
  if (others.length === 0 || others.some((s) => s.location!.split(", ").at(-1) === country)) return null;
  return country;
}
