import type { RedisClientType } from "redis";
import { isCluster, sendRaw } from "./client";

/** How many replicas must have a write before it is answered, and for how long to wait. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
  /** Told when fewer replicas acknowledged in time: the write is answered all the same, and may be lost in a failover. */
  onShortfall?: (acknowledged: number, wanted: number) => void;
  /**
   * The connection that the writes which wait, and their WAIT, go through. WAIT holds up
   * every later command on its connection until it returns: on the connection that serves
   * page views, one sign-out waiting for a slow replica would stall every page meanwhile.
   */
  client?: RedisClientType;
}

/** How long a write waits for REDIS_WAIT_REPLICAS replicas before it is answered all the same. */
export const REPLICA_WAIT_TIMEOUT_MS = 1000;

/**
 * The replica wait for REDIS_WAIT_REPLICAS: with replicas to wait for, writes that wait get a
 * connection of their own (see ReplicaWait.client), which the caller closes.
 */
export async function openReplicaWait(
  client: RedisClientType,
  replicas: number,
  events: { redisError?(err: Error): void; replicaShortfall?(acknowledged: number, wanted: number): void },
): Promise<ReplicaWait> {
  let durable: RedisClientType | undefined;
  if (replicas > 0) {
    durable = client.duplicate();
    durable.on("error", (err: Error) => events.redisError?.(err));
    await durable.connect();
  }
  return { replicas, timeoutMs: REPLICA_WAIT_TIMEOUT_MS, onShortfall: events.replicaShortfall, client: durable };
}

/** The client for writes that wait for replicas: their own connection when there is one. */
export function durableClient(client: RedisClientType, wait: ReplicaWait | undefined): RedisClientType {
  return wait && wait.replicas > 0 && wait.client ? wait.client : client;
}

/**
 * WAIT for replicas after writes to these keys. Redis replicates asynchronously: without
 * this, a write acknowledged just before its master dies can be lost in the failover. On a
 * Cluster, WAIT goes to the node that holds each key (the one the writes went to); on one
 * server or behind Sentinel, one WAIT covers the connection. Returns the fewest replicas that
 * acknowledged (WAIT gives up after the timeout, as Redis does; a shortfall is reported,
 * not turned into an error: refusing a sign-out because a replica is slow would be worse).
 */
export async function waitForReplicas(client: RedisClientType, keys: string[], wait: ReplicaWait | undefined): Promise<number> {
  if (!wait || wait.replicas <= 0 || keys.length === 0) return Number.POSITIVE_INFINITY;
  const args = ["WAIT", String(wait.replicas), String(wait.timeoutMs)];
  // On a Cluster each key's node took its writes; elsewhere one connection took them all.
  const targets = isCluster(client) ? [...new Set(keys)] : [keys[0]];
  const acked = Math.min(...(await Promise.all(targets.map((key) => sendRaw<number>(client, key, args)))));
  if (acked < wait.replicas) wait.onShortfall?.(acked, wait.replicas);
  return acked;
}
