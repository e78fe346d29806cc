// Which errors are the package's own: raised by its store, its middleware or its routes. Its
// error handler answers those and passes every other error on, as it came, to the site's.

const own = new WeakSet<object>();

/** Marks an error as the package's; returns it. */
export function markOwn<T>(err: T): T {
  if (typeof err === "object" && err !== null) own.add(err);
  return err;
}

export function isOwn(err: unknown): boolean {
  return typeof err === "object" && err !== null && own.has(err);
}
