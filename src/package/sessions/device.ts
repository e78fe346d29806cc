import { UAParser } from "ua-parser-js";

export interface Device {
  /** "Chrome on macOS" */
  label: string;
  /** "Desktop", "Mobile", "Tablet", ... */
  type: string;
}

const TYPES: Record<string, string> = {
  mobile: "Mobile",
  tablet: "Tablet",
  smarttv: "TV",
  console: "Console",
  wearable: "Wearable",
  embedded: "Embedded device",
};

/** ua-parser-js 1.x keeps some older product names. */
const OS_NAMES: Record<string, string> = { "Mac OS": "macOS", "Chromium OS": "ChromeOS" };

/**
 * Text browsers ua-parser-js 1.x misreads: ELinks is taken for Links (the engine, no browser
 * name), and Links names macOS by its kernel, Darwin.
 */
const ELINKS = /^ELinks\//;
const TEXT_BROWSER_SYSTEMS: Record<string, string> = { Darwin: "macOS" };
/** The system in a Links or ELinks user agent: "Links (2.28; Linux 6.1.0 ...; text)". */
const TEXT_BROWSER_SYSTEM = /^E?Links[ /][^(]*\((?:[^;)]*;\s*)?([A-Za-z]+)/;

/** A readable name for a user agent; anything unrecognised reads as "Unknown browser". */
export function describeDevice(userAgent: string): Device {
  const result = new UAParser(userAgent).getResult();
  const browser = ELINKS.test(userAgent) ? "ELinks" : (result.browser.name ?? "Unknown browser");
  const os = systemOf(userAgent, result.os.name);
  return {
    label: os ? `${browser} on ${os}` : browser,
    type: result.device.type ? (TYPES[result.device.type] ?? "Other") : userAgent ? "Desktop" : "Unknown",
  };
}

function systemOf(userAgent: string, parsed: string | undefined): string | undefined {
  // Lynx names its TLS library ("GNUTLS/3.7.9"), which ua-parser-js reads as the system "GNU";
  // Lynx's user agent names no system at all.
  if (parsed === "GNU" && /\bGNUTLS\//.test(userAgent) && !/\bGNU(?![A-Za-z])/.test(userAgent)) return undefined;
  if (parsed) return OS_NAMES[parsed] ?? parsed;
  const named = TEXT_BROWSER_SYSTEM.exec(userAgent)?.[1];
  return named ? TEXT_BROWSER_SYSTEMS[named] : undefined;
}
