import cookieParser from "cookie-parser";
import type { Request } from "express";
import { withoutInvisibleCharacters } from "../control-characters";

/** User agents longer than this are cut: a header is no place to store a novel. */
export const MAX_USER_AGENT_LENGTH = 512;

export function userAgentOf(req: Request): string {
  return withoutInvisibleCharacters(req.get("user-agent") ?? "").slice(0, MAX_USER_AGENT_LENGTH);
}

/** The socket address, or X-Forwarded-For only when TRUST_PROXY says so (Express's req.ip). */
export function clientIp(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? "";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

const parseCookies = cookieParser();

/** The request's cookies, parsed on first use: most requests need no cookie but the session's. */
export function cookiesOf(req: Request): Record<string, string> {
  if (!req.cookies) parseCookies(req, undefined as never, () => {});
  return req.cookies as Record<string, string>;
}
