/**
 * How far a run of the migration from connect-redis got. In a file of its own, apart from the
 * migration (which needs the "redis" package): the main entry's types name it, and a site
 * without "redis" compiles them.
 */
export interface MigrationProgress {
  /** Keys under the prefix looked at so far. */
  scanned: number;
  /** Sessions made the package's (indexed when their account was named). */
  moved: number;
  /** Of those, indexed under an account. */
  indexed: number;
  /** Keys that were no session, or were moved by their browser meanwhile. */
  skipped: number;
  /** Whether the whole prefix has been walked. */
  done: boolean;
  /** Another run (another instance) holds the migration: this one did nothing. */
  busy?: boolean;
}
