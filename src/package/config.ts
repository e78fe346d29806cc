import { randomBytes } from "node:crypto";
import proxyAddr from "proxy-addr";
import { z } from "zod";
import { isTooWidePublicRange } from "./addresses";
import type { CookieShape, Lifetime } from "./session-store/session-record";

/** Everything the server reads from its environment, parsed once at start. */
export interface Config {
  production: boolean;
  port: number;
  host: string;
  /** Unset, with no cluster nodes either: the embedded in-process store. */
  redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster ("host:port"); empty when not a cluster. */
  redisClusterNodes: string[];
  /** Sentinels ("host:port") and the name of the master they watch; empty when not used. */
  redisSentinels: string[];
  redisSentinelName: string;
  /** Replicas that must have sign-ins, revocations and password changes before they are answered. */
  redisWaitReplicas: number;
  /** How long a session read is tried again while Redis is unavailable (a failover), in ms. */
  redisReadRetryMs: number;
  /** The longest a request waits for one answer of Redis (or for the first connection) before it answers 503, in ms. */
  redisTimeoutMs: number;
  /** The first signs new cookies; all of them verify session cookies. */
  sessionSecrets: string[];
  /**
   * What signs and verifies the package's own tokens (mail links, device and message cookies,
   * CSRF tokens, rotated ids): only the secrets of MIN_SECRET_LENGTH or more, in every mode. An
   * older, shorter secret kept after the first verifies session cookies only. With no strong
   * secret (outside production only), a key of this process's own.
   */
  tokenSecrets: string[];
  /** What the start should say (a weak secret outside production, cookies that are not Secure). */
  warnings: string[];
  /** True when the secret was generated for this process only. */
  sessionSecretGenerated: boolean;
  /** Durations in seconds. */
  idleTimeout: number;
  /** The idle timeout of sessions signed in without "remember me". */
  browserIdleTimeout: number;
  absoluteTimeout: number;
  updateAge: number;
  reauthWindow: number;
  /** A signed-in session gets a new id this often (seconds; 0: never), to tell a stolen cookie. */
  rotateInterval: number;
  /** How long the previous id keeps working after a rotation (seconds). */
  rotateGrace: number;
  maxSessionsPerUser: number;
  /** At the cap: end the least recently active session ("end-oldest"), or let the person choose ("ask"). */
  sessionLimitPolicy: "end-oldest" | "ask";
  /** How long a session ended by someone or something else remembers why (s): the next request says so. */
  tombstoneTtl: number;
  embeddedMaxSessions: number;
  /** A MaxMind GeoLite2 or GeoIP2 City file; unset: the GeoLite2 City data shipped with the server. */
  geoipDatabase: string | undefined;
  /** Session records each process keeps in memory, kept fresh by Redis (client-side caching); 0: none. */
  sessionCacheEntries: number;
  /** Express `trust proxy`: false when unset, a hop count, or the proxies' addresses and subnets. Never true. */
  trustProxy: false | number | string[];
  /** Password throttling: failed attempts per client IP, per account (or known device), per window (s). */
  signinLimitPerIp: number;
  signinLimitPerAccount: number;
  /** Password checks, right or wrong, per client address (an IPv6 /64) and per account (or known device) in the window. */
  signinChecksPerIp: number;
  signinChecksPerAccount: number;
  /** Sign-up attempts per client IP per window. */
  signupLimitPerIp: number;
  signinLimitWindow: number;
  /** Security activity kept per user (entries) and for how long after the last one (s). */
  activityMaxPerUser: number;
  activityRetention: number;
  /** Entries kept in the administrators' audit log. */
  auditMax: number;
  /** Requests per minute one client IP may make to the JSON API. */
  apiLimitPerMinute: number;
  /** Where the package's mail goes out (SMTP_URL); without it, mail is written to the log. */
  smtpUrl?: string;
  mailFrom: string;
  /** The site's absolute address, without a trailing slash, for links in mail (PUBLIC_URL). */
  publicUrl: string;
  /** Where /metrics (Prometheus) is served, apart from the site; off when the port is unset. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** Derived from the above once, here: the session timeouts in ms, and the session cookie. */
  lifetime: Lifetime;
  cookie: CookieShape;
  cookieName: string;
}

/** A visitor's session (a flash message before signing in) lives at most a day without use. */
const ANONYMOUS_LIFETIME_MS = 24 * 3600 * 1000;

export class ConfigError extends Error {}

const seconds = (fallback: number) =>
  z.coerce
    .number()
    .int()
    .positive()
    .max(10 * 365 * 24 * 3600)
    .default(fallback);

const HOST_PORTS = /^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/;

const schema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
    .optional(),
  REDIS_CLUSTER_NODES: z.string().regex(HOST_PORTS, "must be host:port seeds, comma-separated").optional(),
  REDIS_SENTINELS: z.string().regex(HOST_PORTS, "must be host:port sentinels, comma-separated").optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).default("mymaster"),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  REDIS_READ_RETRY_MS: z.coerce.number().int().min(0).max(30_000).default(3000),
  REDIS_TIMEOUT: z.coerce.number().min(0.05).max(60).default(3),
  SESSION_SECRET: z.string().optional(),
  SESSION_IDLE_TIMEOUT: seconds(30 * 24 * 3600),
  SESSION_BROWSER_IDLE_TIMEOUT: seconds(12 * 3600),
  SESSION_ABSOLUTE_TIMEOUT: seconds(90 * 24 * 3600),
  SESSION_UPDATE_AGE: seconds(60),
  SESSION_REAUTH_WINDOW: seconds(900),
  // 0 turns rotation off.
  SESSION_ROTATE_INTERVAL: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * 24 * 3600)
    .default(900),
  SESSION_ROTATE_GRACE: z.coerce.number().int().min(1).max(3600).default(60),
  SESSION_MAX_PER_USER: z.coerce.number().int().min(1).max(10000).default(100),
  SESSION_TOMBSTONE_TTL: seconds(7 * 24 * 3600),
  SESSION_LIMIT_POLICY: z.enum(["end-oldest", "ask"]).default("end-oldest"),
  EMBEDDED_MAX_SESSIONS: z.coerce.number().int().min(10).default(50000),
  SESSION_CACHE_ENTRIES: z.coerce.number().int().min(0).max(10_000_000).default(10000),
  GEOIP_DATABASE: z.string().optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().default("127.0.0.1"),
  TRUST_PROXY: z.string().optional(),
  SIGNIN_LIMIT_PER_IP: z.coerce.number().int().min(1).default(50),
  SIGNIN_LIMIT_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  SIGNIN_CHECKS_PER_IP: z.coerce.number().int().min(1).default(200),
  SIGNIN_CHECKS_PER_ACCOUNT: z.coerce.number().int().min(1).default(30),
  SIGNUP_LIMIT_PER_IP: z.coerce.number().int().min(1).default(20),
  SIGNIN_LIMIT_WINDOW: seconds(900),
  ACTIVITY_MAX_PER_USER: z.coerce.number().int().min(1).max(100000).default(200),
  ACTIVITY_RETENTION: seconds(90 * 24 * 3600),
  AUDIT_MAX: z.coerce.number().int().min(1).max(1000000).default(10000),
  API_RATE_LIMIT: z.coerce.number().int().min(1).default(600),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, "must be smtp://user:password@host:port or smtps://...")
    .optional(),
  MAIL_FROM: z.string().min(3).default("Sessions <sessions@localhost>"),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, "must be the site's absolute address, e.g. https://example.com")
    .optional(),
});

/** Secrets shorter than this are refused in production (OWASP: at least 128 bits of entropy). */
export const MIN_SECRET_LENGTH = 32;

/**
 * TRUST_PROXY: a hop count or the proxies' addresses and subnets (proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal` included). Never "trust everyone": with `true`, or a
 * subnet as wide as the whole address space, any client would choose its own IP with
 * X-Forwarded-For, passing per-IP limits and showing a made-up address on the sessions page.
 */
function parseTrustProxy(value: string | undefined): Config["trustProxy"] {
  if (value === undefined || value === "" || value === "false") return false;
  const advice = "Set TRUST_PROXY to the number of proxies in front of the server (e.g. 1) or to their addresses or subnets (e.g. loopback or 10.0.0.0/8).";
  if (/^(true|yes|on|\*)$/i.test(value.trim())) {
    throw new ConfigError(`TRUST_PROXY=${value} would let any client choose its own IP address with X-Forwarded-For. ${advice}`);
  }
  if (/^\d+$/.test(value.trim())) {
    const hops = Number(value.trim());
    if (hops > 10) throw new ConfigError(`TRUST_PROXY=${value}: at most 10 proxies. ${advice}`);
    return hops === 0 ? false : hops;
  }
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.some((s) => /\/0+$/.test(s))) {
    throw new ConfigError(`TRUST_PROXY=${value} covers every address, so any client would choose its own IP. ${advice}`);
  }
  const wide = list.filter(isTooWidePublicRange);
  if (wide.length > 0) {
    throw new ConfigError(
      `TRUST_PROXY=${value} would let any client choose its own IP address with X-Forwarded-For: ${wide.join(", ")} trusts public addresses wider than a /16 (IPv4) or /32 (IPv6). ${advice}`,
    );
  }
  try {
    proxyAddr.compile(list);
  } catch (err) {
    throw new ConfigError(`TRUST_PROXY=${value}: ${(err as Error).message}. ${advice}`);
  }
  return list;
}

function hostPorts(list: string | undefined): string[] {
  return (list ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
}

/**
 * The settings from environment variables. `secret`, when given (createSessions' `secret`), is
 * the session secrets as they are: a secret in an array there may hold a comma.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: { redisGiven?: boolean; mailGiven?: boolean } & SecretOptions = {},
): Config {
  // Empty variables count as unset, as most shells and compose files produce them.
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(defined);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";

  const topologies = [e.REDIS_URL, e.REDIS_CLUSTER_NODES, e.REDIS_SENTINELS].filter(Boolean).length;
  if (topologies > 1) {
    throw new ConfigError("Set only one of REDIS_URL (one server), REDIS_CLUSTER_NODES (a cluster) and REDIS_SENTINELS (with REDIS_SENTINEL_NAME), not both.");
  }
  if (production && topologies === 0 && !options.redisGiven) {
    throw new ConfigError(
      "REDIS_URL is required when NODE_ENV=production: the embedded store keeps sessions in this process only. " +
        "Set REDIS_URL=redis://host:6379 (or REDIS_CLUSTER_NODES=host1:6379,host2:6379 for a cluster, " +
        "or REDIS_SENTINELS=host1:26379,host2:26379 with REDIS_SENTINEL_NAME).",
    );
  }
  const secrets = secretsOf(e.SESSION_SECRET, options, production);
  // Whoever sends the mail (SMTP_URL's server or the site's own sender), its links must not point at a default address.
  if (production && (e.SMTP_URL || options.mailGiven) && !e.PUBLIC_URL) {
    throw new ConfigError(
      `PUBLIC_URL is required in production when mail is sent (${e.SMTP_URL ? "SMTP_URL is set" : "createSessions was given a `mail` sender"}): the links in the mail need the site's address (e.g. PUBLIC_URL=https://example.com).`,
    );
  }
  if (e.SESSION_ABSOLUTE_TIMEOUT < e.SESSION_IDLE_TIMEOUT) {
    throw new ConfigError("SESSION_ABSOLUTE_TIMEOUT must not be shorter than SESSION_IDLE_TIMEOUT.");
  }
  const generated = secrets.length === 0;
  const sessionSecrets = generated ? [randomBytes(32).toString("base64url")] : secrets;
  const strong = sessionSecrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  const warnings: string[] = [];
  // Outside production a short secret may sign session cookies (a tutorial's "keyboard cat"),
  // but never a token of the package's: anyone who knows the secret could forge a mail link
  // that sets a password. Those get a key of this process's own, so they end at a restart.
  if (strong.length === 0) {
    warnings.push(
      `The session secret (SESSION_SECRET, or createSessions' \`secret\`) has no secret of ${MIN_SECRET_LENGTH} characters or more: mail links, CSRF tokens and the device and message cookies are signed with a key of this process only, ` +
        "so they stop working when it restarts (production refuses to start like this). Set a random secret, e.g. the output of: openssl rand -base64 48",
    );
  }

  return {
    production,
    port: e.PORT,
    host: e.HOST ?? (production ? "0.0.0.0" : "127.0.0.1"),
    redisUrl: e.REDIS_URL,
    redisClusterNodes: hostPorts(e.REDIS_CLUSTER_NODES),
    redisSentinels: hostPorts(e.REDIS_SENTINELS),
    redisSentinelName: e.REDIS_SENTINEL_NAME,
    redisWaitReplicas: e.REDIS_WAIT_REPLICAS,
    redisReadRetryMs: e.REDIS_READ_RETRY_MS,
    redisTimeoutMs: Math.round(e.REDIS_TIMEOUT * 1000),
    sessionSecrets,
    tokenSecrets: strong.length > 0 ? strong : [randomBytes(32).toString("base64url")],
    warnings,
    sessionSecretGenerated: generated,
    idleTimeout: e.SESSION_IDLE_TIMEOUT,
    browserIdleTimeout: e.SESSION_BROWSER_IDLE_TIMEOUT,
    absoluteTimeout: e.SESSION_ABSOLUTE_TIMEOUT,
    updateAge: e.SESSION_UPDATE_AGE,
    reauthWindow: e.SESSION_REAUTH_WINDOW,
    rotateInterval: e.SESSION_ROTATE_INTERVAL,
    rotateGrace: e.SESSION_ROTATE_GRACE,
    maxSessionsPerUser: e.SESSION_MAX_PER_USER,
    tombstoneTtl: e.SESSION_TOMBSTONE_TTL,
    sessionLimitPolicy: e.SESSION_LIMIT_POLICY,
    embeddedMaxSessions: e.EMBEDDED_MAX_SESSIONS,
    sessionCacheEntries: e.SESSION_CACHE_ENTRIES,
    geoipDatabase: e.GEOIP_DATABASE,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    signinLimitPerIp: e.SIGNIN_LIMIT_PER_IP,
    signinLimitPerAccount: e.SIGNIN_LIMIT_PER_ACCOUNT,
    signinChecksPerIp: e.SIGNIN_CHECKS_PER_IP,
    signinChecksPerAccount: e.SIGNIN_CHECKS_PER_ACCOUNT,
    signupLimitPerIp: e.SIGNUP_LIMIT_PER_IP,
    signinLimitWindow: e.SIGNIN_LIMIT_WINDOW,
    activityMaxPerUser: e.ACTIVITY_MAX_PER_USER,
    activityRetention: e.ACTIVITY_RETENTION,
    auditMax: e.AUDIT_MAX,
    apiLimitPerMinute: e.API_RATE_LIMIT,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    publicUrl: (e.PUBLIC_URL ?? `http://${e.HOST ?? "127.0.0.1"}:${e.PORT}`).replace(/\/+$/, ""),
    lifetime: {
      idle: e.SESSION_IDLE_TIMEOUT * 1000,
      browserIdle: e.SESSION_BROWSER_IDLE_TIMEOUT * 1000,
      absolute: e.SESSION_ABSOLUTE_TIMEOUT * 1000,
      anonymous: Math.min(e.SESSION_IDLE_TIMEOUT * 1000, ANONYMOUS_LIFETIME_MS),
      updateAge: e.SESSION_UPDATE_AGE * 1000,
    },
    cookie: { httpOnly: true, path: "/", sameSite: "lax", secure: production },
    cookieName: production ? "__Host-sid" : "sid",
  };
}

/** Where the secrets are given, for the messages that say how to give them. */
type SecretOptions = {
  /** createSessions' `secret`, as given. */
  secret?: string | string[];
  /** The site keeps its own session() (createSessions' `userIdOf`), which reads its secret apart from the package. */
  siteSession?: boolean;
};

const ARRAY_FORM = "secret: [process.env.SESSION_SECRET, process.env.OLD_SESSION_SECRET] (an array, the same in your session() and in createSessions)";

/**
 * The session secrets as given: createSessions' `secret` as it is (a secret there may hold a
 * comma), or SESSION_SECRET split at commas. Blank entries are left out. In production the first
 * (the one that signs) must be strong, and a list the site's own session() would read as one
 * string is refused: the two would sign and verify with different secrets.
 */
function secretsOf(variable: string | undefined, options: SecretOptions, production: boolean): string[] {
  // A blank secret (an empty or spaces-only entry) is no secret: left out, never used to verify.
  // An array as a site builds it from its variables may hold an unset one: left out, as a blank one is.
  const given = options.secret === undefined ? undefined : [options.secret].flat().filter((s): s is string => typeof s === "string");
  const secrets = (given ?? (variable ?? "").split(",").map((s) => s.trim())).filter((s) => s.trim() !== "");
  if (!production) return secrets;
  if (secrets.length === 0) {
    throw new ConfigError(
      "SESSION_SECRET is required when NODE_ENV=production. Set it to a random string of at least " +
        `${MIN_SECRET_LENGTH} characters, e.g. the output of: openssl rand -base64 48`,
    );
  }
  // One string with a comma in it: a list split in one place and not in the other (the site's
  // session() takes a string as one secret), or a secret with a comma ('shhhh, very secret').
  // An array says where each secret ends; one string does not.
  const oneString = typeof options.secret === "string" ? options.secret : given === undefined && options.siteSession ? variable : undefined;
  if (oneString?.includes(",")) {
    throw new ConfigError(
      `The session secret ${typeof options.secret === "string" ? "given as `secret`" : "in SESSION_SECRET"} holds a comma: is it one secret or a list? Your own session() takes a string as one secret, so a new secret and an old one written "new,old" sign everyone out. ` +
        `Give each secret apart, as an array: ${ARRAY_FORM}.`,
    );
  }
  // The first secret signs every cookie and token: it must be strong. One after it may be an
  // older, shorter one (a site's secret before it moved here), kept so that the session cookies
  // it signed still verify and nobody is signed out; it never verifies a token of the package's.
  if (secrets[0].length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `The first session secret (the one that signs) must be at least ${MIN_SECRET_LENGTH} characters long. ` +
        `To keep the cookies an older, shorter secret signed, list it after the new one: ${given || options.siteSession ? ARRAY_FORM : `SESSION_SECRET=new,old, or ${ARRAY_FORM}`}.`,
    );
  }
  return secrets;
}

/** Whether sessions and accounts live in Redis (one server, a cluster or behind Sentinel), not in this process. */
export function usesRedis(config: Config): boolean {
  return Boolean(config.redisUrl) || config.redisClusterNodes.length > 0 || config.redisSentinels.length > 0;
}
