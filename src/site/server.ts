import { createServer } from "node:http";
import pino from "pino";
import { ConfigError } from "../package";
import { createMetrics } from "../package/metrics-entry";
import { type Config, loadConfig } from "../package/site-kit-entry";
import { createApp } from "./app";
import { type Backend, openBackend } from "./backend";
import { serveMetrics } from "./metrics-server";
import { PasswordHasher } from "./users/password";

/** Reads the configuration, opens the backend, listens, and shuts down cleanly. */
async function main(): Promise<void> {
  // Log lines are buffered and written 4 KiB at a time, or at least every second: one write
  // per request cost more than the rest of the logging (docs/benchmarks.md).
  const destination = pino.destination({ sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), 1000).unref();
  const logger = pino({ level: process.env.LOG_LEVEL ?? "info" }, destination);
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  if (config.redisUrl) logger.info({ redis: redactUrl(config.redisUrl) }, "session store: Redis");
  else if (config.redisClusterNodes.length > 0) logger.info({ nodes: config.redisClusterNodes }, "session store: Redis Cluster");
  else if (config.redisSentinels.length > 0)
    logger.info({ sentinels: config.redisSentinels, name: config.redisSentinelName }, "session store: Redis behind Sentinel");
  else logger.info("session store: embedded, in this process (no REDIS_URL): sessions and accounts end when it stops");
  if (config.sessionSecretGenerated) logger.warn("SESSION_SECRET is not set: using a random one, so a restart signs everyone out");

  const passwords = new PasswordHasher();
  // Prometheus metrics, only when METRICS_PORT asks for them.
  const metrics = config.metricsPort !== undefined ? createMetrics() : undefined;
  let backend: Backend;
  try {
    backend = await openBackend(config, {
      passwords,
      metrics,
      events: {
        warning: (message) => logger.warn(message),
        redisError: (err) => logger.warn({ err: err.message }, "Redis connection problem"),
        redisStalled: () => logger.error("Redis stopped answering (no reply, no error): session reads answer 503 until it does"),
        // Without SMTP_URL, each message (its link included) is written here instead of sent.
        mailWritten: (message) => logger.info({ to: message.to, subject: message.subject }, `mail (not sent: no SMTP_URL)\n${message.text}`),
        mailFailed: (err, final) =>
          logger.warn({ err: err.message, final }, final ? "a mail was given up after its last try" : "a mail could not be sent; it is tried again"),
        replicaShortfall: (acknowledged, wanted) =>
          logger.warn({ acknowledged, wanted }, "a write was answered before REDIS_WAIT_REPLICAS replicas had it; a failover now could lose it"),
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    const where = config.redisUrl ? redactUrl(config.redisUrl) : [...config.redisClusterNodes, ...config.redisSentinels].join(",");
    process.stderr.write(`Cannot reach Redis at ${where}: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const app = createApp({ ...backend, config, logger, passwords, metrics });
  if (metrics && config.metricsPort !== undefined) {
    const listener = await serveMetrics(metrics, config.metricsHost, config.metricsPort).catch((err: Error) => {
      process.stderr.write(`Cannot serve metrics on ${config.metricsHost}:${config.metricsPort}: ${err.message}\n`);
      process.exit(1);
    });
    listener.unref();
    logger.info(`metrics on http://${config.metricsHost}:${config.metricsPort}/metrics`);
  }
  const server = createServer(app);
  server.listen(config.port, config.host, () => {
    logger.info(`listening on http://${config.host}:${config.port}`);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing requests in flight");
    // Stop accepting; idle keep-alive connections close now, busy ones after their response.
    server.close(async () => {
      await backend.close();
      logger.info("stopped");
      destination.flushSync();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      logger.error("requests still running after 10 s; exiting");
      destination.flushSync();
      process.exit(1);
    }, 10_000).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

void main();
