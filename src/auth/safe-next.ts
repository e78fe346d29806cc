const BASE = "http://same-site.invalid";
export const DEFAULT_NEXT = "/dashboard";

/**
 * Where to go after sign-in: a same-site relative path, or the dashboard. Refuses absolute
 * and scheme-relative URLs (`//host`, `/\host`), backslashes and control characters anywhere,
 * and anything that would leave this origin once a browser resolves it.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || next.length === 0 || next.length > 2048) return DEFAULT_NEXT;
  // eslint-disable-next-line no-control-regex
  if (!next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) return DEFAULT_NEXT;
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return DEFAULT_NEXT;
  }
  // eslint-disable-next-line no-control-regex
  if (decoded.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(decoded)) return DEFAULT_NEXT;
  const url = new URL(next, BASE);
  if (url.origin !== BASE) return DEFAULT_NEXT;
  if (url.pathname === "/login" || url.pathname === "/signup") return DEFAULT_NEXT;
  return url.pathname + url.search + url.hash;
}
