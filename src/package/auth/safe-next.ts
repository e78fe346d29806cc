import { hasControlCharacters } from "../control-characters";

const BASE = "http://same-site.invalid";
export const DEFAULT_NEXT = "/dashboard";

/** A path a browser resolves on this origin: one leading slash, no backslash or control character. */
function isLocalPath(path: string): boolean {
  return path.startsWith("/") && !path.startsWith("//") && !path.includes("\\") && !hasControlCharacters(path);
}

/**
 * Where to go after sign-in: a same-site relative path, or `fallback` (the dashboard).
 *
 * What is judged is the normalised path, the one a browser will request: `new URL()` removes
 * dot segments, so `/.//evil.example` and `/a/..//evil.example` become `//evil.example`, a
 * scheme-relative URL to another site. The raw string, its percent-decoded form and the
 * normalised result must each be a plain local path; the result is what the redirect sends.
 */
export function safeNext(next: unknown, fallback: string = DEFAULT_NEXT): string {
  const judged = judge(next);
  return judged ?? fallback;
}

function judge(next: unknown): string | null {
  if (typeof next !== "string" || next.length === 0 || next.length > 2048) return null;
  if (!isLocalPath(next)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return null;
  }
  if (!isLocalPath(decoded)) return null;
  const url = new URL(next, BASE);
  if (url.origin !== BASE) return null;
  const normalised = url.pathname + url.search + url.hash;
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  if (!isLocalPath(normalised) || !isLocalPath(decodedPath)) return null;
  // Resolving the result again must give the result: what the browser requests is what was judged.
  const again = new URL(normalised, BASE);
  if (again.origin !== BASE || again.pathname + again.search + again.hash !== normalised) return null;
  if (url.pathname === "/login" || url.pathname === "/signup") return null;
  return normalised;
}
