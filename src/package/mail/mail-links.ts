import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** What a link in the package's mail may do, and how long it works. */
export const LINK_LIFETIMES_MS = {
  /** "This wasn't me" in a sign-in alert: ends the session it names. */
  "not-me": 7 * 24 * 3600 * 1000,
  /** Set a new password, right after "This wasn't me" was used (the link proved the mailbox). */
  password: 30 * 60 * 1000,
  /** A site's own "forgot your password" mail: short, as OWASP's forgot-password guidance asks. */
  reset: 60 * 60 * 1000,
  /** A site's own "finish creating your account" mail: the address is confirmed by opening it. */
  "sign-up": 24 * 3600 * 1000,
} as const;
export type LinkKind = keyof typeof LINK_LIFETIMES_MS;

export interface LinkClaims {
  kind: LinkKind;
  userId: string;
  /** The session the link is about. */
  session: string;
  /** Unique per link: a used link is remembered by it. */
  nonce: string;
  expiresAt: number;
  /** The account's credential version when the link was made: a password changed since voids it. */
  version?: number;
}

const MAC_LENGTH = 22;

/**
 * Signed links for mail: the claims in the URL, readable but not forgeable (an HMAC with a key
 * derived from the session secrets: the first signs, all verify), with an expiry. Single use
 * is the caller's, by the nonce.
 */
export class MailLinks {
  private readonly keys: Buffer[];

  constructor(secrets: string[]) {
    this.keys = secrets.map((s) => createHmac("sha256", s).update("mail-link").digest());
  }

  make(kind: LinkKind, userId: string, session: string, now: number, version?: number): string {
    return this.sign({ kind, userId, session, nonce: randomBytes(12).toString("base64url"), expiresAt: now + LINK_LIFETIMES_MS[kind], version });
  }

  /** The same link under a new nonce, expiring when it did: a form refused after its link was taken offers this one. */
  reissue(claims: LinkClaims): string {
    return this.sign({ ...claims, nonce: randomBytes(12).toString("base64url") });
  }

  private sign(claims: LinkClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${body}.${mac(this.keys[0], body)}`;
  }

  /** The claims of a link of this kind, "expired", or null for anything else (forged, cut, another kind). */
  read(token: unknown, kind: LinkKind, now: number): LinkClaims | "expired" | null {
    if (typeof token !== "string" || token.length > 1024) return null;
    const [body, given, extra] = token.split(".");
    // Bytes, not characters: a signature with a non-ASCII character has another byte length.
    const givenBytes = Buffer.from(given ?? "");
    if (extra !== undefined || !body || givenBytes.length !== MAC_LENGTH) return null;
    if (!this.keys.some((key) => timingSafeEqual(Buffer.from(mac(key, body)), givenBytes))) return null;
    let claims: LinkClaims;
    try {
      claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as LinkClaims;
    } catch {
      return null;
    }
    if (claims?.kind !== kind || typeof claims.userId !== "string" || typeof claims.session !== "string" || typeof claims.expiresAt !== "number") return null;
    return claims.expiresAt <= now ? "expired" : claims;
  }
}

function mac(key: Buffer, body: string): string {
  return createHmac("sha256", key).update(body).digest().subarray(0, 16).toString("base64url");
}
