import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Request, Response } from "express";
import { cookiesOf } from "../middleware/client-info";
import { normalizeEmail } from "../users/account";

/** How long a browser stays a known device of an account after its last sign-in there. */
const DEVICE_COOKIE_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
/** Accounts one browser is remembered for; the oldest is forgotten first. */
const MAX_ACCOUNTS = 5;
const NONCE = /^[A-Za-z0-9_-]{16}$/;
const MAC = /^[A-Za-z0-9_-]{22}$/;

/**
 * OWASP's "device cookies": a browser that has signed in to an account carries a token that
 * says so, signed with the session secret. A sign-in from a known device is throttled on that
 * device's own failures only, so ten wrong passwords from somewhere else cannot lock the owner
 * out of the devices they use (ASVS 6.1.1); unknown devices are throttled per account as before.
 *
 * One cookie holds a token per account, `nonce.mac` joined by `~`, where the MAC covers the
 * nonce, a hash of the account's email and the account's credential version: the cookie names
 * no account, a token is worth nothing for another one, and every token saved before a
 * password change is worth nothing after it (whoever saved them had the old password).
 */
export class DeviceCookies {
  private readonly keys: Buffer[];

  constructor(
    secrets: string[],
    readonly name: string,
    private readonly secure: boolean,
  ) {
    // A key of its own, derived from each session secret: the first signs, all verify.
    this.keys = secrets.map((s) => createHmac("sha256", s).update("device-cookie").digest());
  }

  /** The nonce of this browser's token for the account at this credential version, when it carries a valid one. */
  knownDevice(req: Request, email: string, credentialVersion: number): string | null {
    const account = `${accountKey(email)}:${credentialVersion}`;
    const token = this.tokens(req).find((t) => this.isFor(t, account));
    return token ? token.split(".")[0] : null;
  }

  /** After a successful sign-in: this browser is now a known device of the account. */
  remember(req: Request, res: Response, email: string, credentialVersion: number): void {
    const account = `${accountKey(email)}:${credentialVersion}`;
    // Tokens of older credential versions are worth nothing; the newest go first, so they fall off the end.
    const kept = this.tokens(req).filter((t) => !this.isFor(t, account));
    const nonce = randomBytes(12).toString("base64url");
    const tokens = [`${nonce}.${sign(this.keys[0], nonce, account)}`, ...kept].slice(0, MAX_ACCOUNTS);
    res.cookie(this.name, tokens.join("~"), {
      httpOnly: true,
      secure: this.secure,
      sameSite: "strict",
      path: "/",
      maxAge: DEVICE_COOKIE_MAX_AGE_MS,
    });
  }

  /** Whether a token was signed, with any of the secrets, for this account. */
  private isFor(token: string, account: string): boolean {
    const [nonce, mac] = token.split(".");
    return this.keys.some((key) => equal(mac, sign(key, nonce, account)));
  }

  private tokens(req: Request): string[] {
    const raw = cookiesOf(req)[this.name];
    if (typeof raw !== "string" || raw.length > 512) return [];
    return raw.split("~").filter((t) => {
      const [nonce, mac, extra] = t.split(".");
      return extra === undefined && NONCE.test(nonce ?? "") && MAC.test(mac ?? "");
    });
  }
}

/** The account as counters and tokens name it: a hash of the normalised email, never the address. */
export function accountKey(email: string): string {
  return createHash("sha256").update(normalizeEmail(email)).digest("base64url");
}

function sign(key: Buffer, nonce: string, account: string): string {
  return createHmac("sha256", key).update(`${nonce}:${account}`).digest().subarray(0, 16).toString("base64url");
}

function equal(a: string | undefined, b: string): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
