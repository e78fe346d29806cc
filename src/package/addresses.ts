import { ipKeyGenerator } from "express-rate-limit";
import ipaddr from "ipaddr.js";

/**
 * The key a per-address counter uses: an IPv4 address as it is, an IPv6 address by its /64
 * (express-rate-limit's ipKeyGenerator). One IPv6 subscriber is usually handed a whole /64,
 * so counting single IPv6 addresses would give one client 2^64 budgets.
 */
export function addressKey(ip: string): string {
  return ipKeyGenerator(ip, 64);
}

/**
 * The network an address is on, as far as telling one browser's place from another's: an
 * IPv4 address by its /24, an IPv6 one by its /64 (an IPv4-mapped IPv6 address as IPv4).
 */
export function networkOf(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === "ipv4") return `${address.toByteArray().slice(0, 3).join(".")}.0/24`;
  return addressKey(address.toString());
}

/** Space that never reaches a server from the internet: private, loopback, link-local, shared (CGNAT). */
const NON_PUBLIC: [string, number][] = [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["100.64.0.0", 10],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
];

/** A public range shorter than these would trust a large part of the internet as proxies. */
const SHORTEST_PUBLIC_PREFIX = { ipv4: 16, ipv6: 32 } as const;

/**
 * Whether a TRUST_PROXY entry (an address or a subnet; proxy-addr's names are fine) trusts
 * public space wider than a /16 (IPv4) or /32 (IPv6). `0.0.0.0/1,128.0.0.0/1` is two such
 * entries: together they trust every client to name its own address.
 */
export function isTooWidePublicRange(entry: string): boolean {
  if (!entry.includes("/")) return false;
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    range = ipaddr.parseCIDR(entry);
  } catch {
    return false; // proxy-addr reports what it cannot read
  }
  let [address, bits] = range;
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    bits = Math.max(0, bits - 96);
  }
  const kind = address.kind();
  const inside = NON_PUBLIC.some(([net, netBits]) => {
    const network = ipaddr.parse(net);
    return network.kind() === kind && netBits <= bits && address.match(network, netBits);
  });
  return !inside && bits < SHORTEST_PUBLIC_PREFIX[kind];
}
