import { hasChromium, NO_CHROMIUM } from "./chromium";
import { hasRedisServerBinary, NO_REDIS_SERVER, waitForRedis } from "./redis-server";
import { startTopology, type Topology } from "./topology";

/**
 * npm test: uses REDIS_URL when it is set (tests then write only under random key prefixes
 * and never flush it); otherwise starts a throwaway redis-server for this run.
 */
export default async function globalSetup(): Promise<void> {
  if (!hasChromium()) process.stderr.write(`\n${"=".repeat(100)}\n${NO_CHROMIUM}\n${"=".repeat(100)}\n\n`);
  if (process.env.REDIS_URL) {
    await waitForRedis(process.env.REDIS_URL, 5000);
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  await startForRun("single");
}

/**
 * Starts a throwaway Redis of one topology for this run; global-teardown stops it. (Jest runs
 * a globalSetup module once however many projects name it, hence one module per topology.)
 */
export async function startForRun(topology: Topology): Promise<void> {
  if (!hasRedisServerBinary()) throw new Error(NO_REDIS_SERVER);
  const started = await startTopology(topology);
  const shared = globalThis as { __redisTopologies?: Array<{ stop(): Promise<void> }> };
  shared.__redisTopologies ??= [];
  shared.__redisTopologies.push(started);
}
