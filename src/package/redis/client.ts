import type { RedisClientType } from "redis";

/**
 * The stores take one client type; behind it may be one server, a Cluster client or a
 * Sentinel client (backend.ts). These are the only places that tell them apart.
 */
export function isCluster(client: RedisClientType): boolean {
  return "masters" in client;
}

/** A raw command, sent to the node that holds `key` on a Cluster, or to the (current) master. */
export function sendRaw<T>(client: RedisClientType, key: string | undefined, args: string[]): Promise<T> {
  if (isCluster(client)) {
    return (client as unknown as { sendCommand(key: string | undefined, readOnly: boolean, args: string[]): Promise<T> }).sendCommand(key, false, args);
  }
  if ("getSentinelNode" in client) {
    return (client as unknown as { sendCommand(readOnly: boolean, args: string[]): Promise<T> }).sendCommand(false, args);
  }
  return client.sendCommand(args) as Promise<T>;
}
