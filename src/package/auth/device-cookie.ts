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
/** A device's name (at most 40 characters, so 160 bytes of UTF-8), base64url. */
const NAME = /^[A-Za-z0-9_-]{1,216}$/;

/** One account's token: `nonce.mac`, or `nonce.mac.name` once the device's name is kept in it. */
interface Token {
  nonce: string;
  mac: string;
  name?: string;
}

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
 * At sign-out the token keeps the name its owner gave the device (the MAC covers it too), so
 * that signing in again in this browser names the new session as before: the name is the
 * device's, not the session's.
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
    return this.tokenFor(req, email, credentialVersion)?.nonce ?? null;
  }

  /** The name this browser's device had when it last signed out of the account, if it kept one. */
  nameOf(req: Request, email: string, credentialVersion: number): string | null {
    const name = this.tokenFor(req, email, credentialVersion)?.name;
    return name ? Buffer.from(name, "base64url").toString("utf8") : null;
  }

  /** At sign-out: the account's token keeps the device's name, for its next sign-in in this browser. */
  keepName(req: Request, res: Response, email: string, credentialVersion: number, name: string): void {
    const account = `${accountKey(email)}:${credentialVersion}`;
    const tokens = this.tokens(req);
    const mine = tokens.find((t) => this.isFor(t, account));
    const encoded = Buffer.from(name, "utf8").toString("base64url");
    if (!mine || !NAME.test(encoded)) return;
    const named = { nonce: mine.nonce, mac: sign(this.keys[0]!, mine.nonce, account, encoded), name: encoded };
    this.write(
      res,
      tokens.map((t) => (t === mine ? named : t)),
    );
  }

  private tokenFor(req: Request, email: string, credentialVersion: number): Token | undefined {
    const account = `${accountKey(email)}:${credentialVersion}`;
    return this.tokens(req).find((t) => this.isFor(t, account));
  }

  /** After a successful sign-in: this browser is now a known device of the account. */
  remember(req: Request, res: Response, email: string, credentialVersion: number): void {
    const account = `${accountKey(email)}:${credentialVersion}`;
    // Tokens of older credential versions are worth nothing; the newest go first, so they fall off the end.
    const kept = this.tokens(req).filter((t) => !this.isFor(t, account));
    const nonce = randomBytes(12).toString("base64url");
    this.write(res, [{ nonce, mac: sign(this.keys[0]!, nonce, account) }, ...kept].slice(0, MAX_ACCOUNTS));
  }

  private write(res: Response, tokens: Token[]): void {
    const value = tokens.map((t) => [t.nonce, t.mac, ...(t.name ? [t.name] : [])].join(".")).join("~");
    res.cookie(this.name, value, {
      httpOnly: true,
      secure: this.secure,
      sameSite: "strict",
      path: "/",
      maxAge: DEVICE_COOKIE_MAX_AGE_MS,
    });
  }

  /** Whether a token was signed, with any of the secrets, for this account (and the name it carries). */
  private isFor(token: Token, account: string): boolean {
    return this.keys.some((key) => equal(token.mac, sign(key, token.nonce, account, token.name)));
  }

  private tokens(req: Request): Token[] {
    const raw = cookiesOf(req)[this.name];
    if (typeof raw !== "string" || raw.length > 2048) return [];
    return raw.split("~").flatMap((t) => {
      const [nonce = "", mac = "", name, extra] = t.split(".");
      if (extra !== undefined || !NONCE.test(nonce) || !MAC.test(mac) || (name !== undefined && !NAME.test(name))) return [];
      return [name === undefined ? { nonce, mac } : { nonce, mac, name }];
    });
  }
}

/** The account as counters and tokens name it: a hash of the normalised email, never the address. */
export function accountKey(email: string): string {
  return createHash("sha256").update(normalizeEmail(email)).digest("base64url");
}

function sign(key: Buffer, nonce: string, account: string, name?: string): string {
  return createHmac("sha256", key)
    .update(name === undefined ? `${nonce}:${account}` : `${nonce}:${account}:${name}`)
    .digest()
    .subarray(0, 16)
    .toString("base64url");
}

function equal(a: string | undefined, b: string): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
