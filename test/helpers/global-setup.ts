import { NO_CHROMIUM, hasChromium } from "./chromium";
import { NO_REDIS_SERVER, hasRedisServerBinary, startRedisServer, waitForRedis } from "./redis-server";

/**
 * Uses REDIS_URL when it is set (tests then write only under random key prefixes and never
 * flush it); otherwise starts a throwaway redis-server for this run.
 */
export default async function globalSetup(): Promise<void> {
  if (!hasChromium()) process.stderr.write(`\n${"=".repeat(100)}\n${NO_CHROMIUM}\n${"=".repeat(100)}\n\n`);
  if (process.env.REDIS_URL) {
    await waitForRedis(process.env.REDIS_URL, 5000);
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  if (!hasRedisServerBinary()) throw new Error(NO_REDIS_SERVER);
  const server = await startRedisServer();
  (globalThis as { __redisServer?: unknown }).__redisServer = server;
  process.env.TEST_REDIS_URL = server.url;
}
