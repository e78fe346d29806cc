import type { MailMessage } from "./mail/mail-queue";
import type { MigrationProgress } from "./session-store/migration-progress";

/** What the owner of the backend hears of (the server logs both). */
export interface BackendEvents {
  /** Something at start that works but is weaker than it should be (a short secret outside production). Default: process.emitWarning. */
  warning?(message: string): void;
  /** The background walk over connect-redis's keys (`legacy.userIdOf`) is done, or another instance runs it (`busy`). */
  legacyMigrated?(progress: MigrationProgress): void;
  /** A connection problem; the client reconnects by itself. */
  redisError?(err: Error): void;
  /** A write answered with fewer replicas than REDIS_WAIT_REPLICAS asked for. */
  replicaShortfall?(acknowledged: number, wanted: number): void;
  /** The link to Redis stopped answering without closing: session reads answer 503 until it answers again. */
  redisStalled?(): void;
  /** Without SMTP_URL (and without a `mail` sender of the site's): a message the package would have sent, link included. Default: printed. */
  mailWritten?(message: MailMessage): void;
  /** A message could not be sent; `final` when it was given up after its last try. */
  mailFailed?(err: Error, final: boolean): void;
}
