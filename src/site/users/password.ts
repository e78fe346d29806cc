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

/** How many hashes run at once (each holds 64 MiB at the OWASP cost), and how many may wait. */
export interface HashingLimits {
  concurrent: number;
  queued: number;
}

/**
 * Two at a time leaves two of libuv's four threads to everything else; 32 waiting is about ten
 * seconds of work at 0.3 s a hash, beyond which a sign-in is better refused than left hanging.
 */
export const DEFAULT_HASHING_LIMITS: HashingLimits = { concurrent: 2, queued: 32 };

/** Too many password hashes are waiting: the request is refused (503 with Retry-After), not queued. */
export class HashingBusyError extends Error {
  /** Answered 503 with its message (see classifyError). */
  readonly status = 503;
  readonly expose = true;
  constructor() {
    super("Too many sign-ins are being checked right now. Please try again in a few seconds.");
  }
}
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * Hashes passwords in a self-describing format, `$scrypt$ln=16,r=8,p=2$<salt>$<hash>`, so the
 * cost can be raised later: `needsRehash` tells when a stored hash is below the current cost.
 */
export class PasswordHasher {
  /** A hash of a random password, verified against when there is no such account. */
  private dummy: Promise<string> | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly cost: ScryptCost = OWASP_SCRYPT_COST,
    private readonly limits: HashingLimits = DEFAULT_HASHING_LIMITS,
  ) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.derive(password, salt, this.cost);
    const { logN, r, p } = this.cost;
    return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString("base64").replace(/=+$/, "")}$${key.toString("base64").replace(/=+$/, "")}`;
  }

  /** False for a wrong password and for a hash it cannot read. */
  async verify(password: string, stored: string): Promise<boolean> {
    const m = FORMAT.exec(stored);
    if (!m) return false;
    const cost = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
    const expected = Buffer.from(m[5], "base64");
    const actual = await this.derive(password, Buffer.from(m[4], "base64"), cost);
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

  /**
   * scrypt through a bounded queue: each hash holds tens of MiB and a thread of libuv's pool,
   * so a burst of password checks (a few accounts guessed at once) would otherwise queue without
   * end and starve every other sign-in. Past the queue's bound the check is refused at once.
   */
  private async derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
    if (this.running >= this.limits.concurrent) {
      if (this.waiting.length >= this.limits.queued) throw new HashingBusyError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await derive(password, salt, cost);
    } finally {
      // Hand the slot to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function derive(password: string, salt: Buffer, { logN, r, p }: ScryptCost): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}
