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

/** A readable name for a user agent; anything unrecognised reads as "Unknown browser". */
export function describeDevice(userAgent: string): Device {
  const result = new UAParser(userAgent).getResult();
  const browser = result.browser.name ?? "Unknown browser";
  const os = result.os.name ? (OS_NAMES[result.os.name] ?? result.os.name) : undefined;
  return {
    label: os ? `${browser} on ${os}` : browser,
    type: result.device.type ? (TYPES[result.device.type] ?? "Other") : userAgent ? "Desktop" : "Unknown",
  };
}
