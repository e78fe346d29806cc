import type { RedisClientType } from "redis";
import { isCluster, sendRaw } from "./redis-client";

/** How many replicas must have a write before it is answered, and for how long to wait. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/**
 * WAIT for replicas after writes to these keys. Redis replicates asynchronously: without
 * this, a write acknowledged just before its master dies can be lost in the failover. On a
 * Cluster, WAIT goes to the node that holds each key (the one the writes went to); on one
 * server or behind Sentinel, one WAIT covers the connection. Returns the fewest replicas that
 * acknowledged (WAIT gives up after the timeout, as Redis does).
 */
export async function waitForReplicas(client: RedisClientType, keys: string[], wait: ReplicaWait | undefined): Promise<number> {
  if (!wait || wait.replicas <= 0 || keys.length === 0) return Number.POSITIVE_INFINITY;
  const args = ["WAIT", String(wait.replicas), String(wait.timeoutMs)];
  // On a Cluster each key's node took its writes; elsewhere one connection took them all.
  const targets = isCluster(client) ? [...new Set(keys)] : [keys[0]];
  const acked = await Promise.all(targets.map((key) => sendRaw<number>(client, key, args)));
  return Math.min(...acked);
}
