import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptCost {
  logN: number;
  r: number;
  p: number;
}

/**
 * OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1 (128 MiB), or an equal
 * trade-off; N=2^16, r=8, p=2 is one, and halves the memory each hash holds.
 */
export const OWASP_SCRYPT_COST: ScryptCost = { logN: 16, r: 8, p: 2 };

const KEY_LENGTH = 32;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * Hashes passwords in a self-describing format, `$scrypt$ln=16,r=8,p=2$<salt>$<hash>`, so the
 * cost can be raised later: `needsRehash` tells when a stored hash is below the current cost.
 */
export class PasswordHasher {
  /** A hash of a random password, verified against when there is no such account. */
  private dummy: Promise<string> | undefined;

  constructor(readonly cost: ScryptCost = OWASP_SCRYPT_COST) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(password, salt, this.cost);
    const { logN, r, p } = this.cost;
    return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString("base64").replace(/=+$/, "")}$${key.toString("base64").replace(/=+$/, "")}`;
  }

  /** False for a wrong password and for a hash it cannot read. */
  async verify(password: string, stored: string): Promise<boolean> {
    const m = FORMAT.exec(stored);
    if (!m) return false;
    const cost = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
    const expected = Buffer.from(m[5], "base64");
    const actual = await derive(password, Buffer.from(m[4], "base64"), cost);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  needsRehash(stored: string): boolean {
    const m = FORMAT.exec(stored);
    if (!m) return true;
    return Number(m[1]) < this.cost.logN || Number(m[2]) < this.cost.r || Number(m[3]) < this.cost.p;
  }

  /** Spends the time of one verification, so an unknown email answers as slowly as a known one. */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString("hex"));
    await this.verify(password, await this.dummy);
    return false;
  }
}

function derive(password: string, salt: Buffer, { logN, r, p }: ScryptCost): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}
