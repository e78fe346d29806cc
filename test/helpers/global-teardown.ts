/** Stops every Redis that globalSetup started (one per jest project). */
export default async function globalTeardown(): Promise<void> {
  const all = (globalThis as { __redisTopologies?: Array<{ stop(): Promise<void> }> }).__redisTopologies ?? [];
  await Promise.all(all.splice(0).map((t) => t.stop()));
}
