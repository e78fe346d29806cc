import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "redis";

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export const NO_REDIS_SERVER =
  "The tests need a Redis server. Either set REDIS_URL=redis://host:port to use one that runs, " +
  "or install redis-server so the tests can start their own (Debian/Ubuntu: apt-get install redis-server; " +
  "macOS: brew install redis).";

export function hasRedisServerBinary(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until the server answers PING, instead of sleeping a fixed time. */
export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      await client.close();
      return;
    } catch (err) {
      client.destroy?.();
      if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface RedisServerOptions {
  port?: number;
  /** Keep data in this folder (append-only file), so a restart on it finds the data again. */
  dataDir?: string;
}

/** A throwaway redis-server on a free loopback port; keeps nothing on disk unless dataDir is given. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!hasRedisServerBinary()) throw new Error(NO_REDIS_SERVER);
  const p = options.port ?? (await freePort());
  const persistence = options.dataDir ? ["--dir", options.dataDir, "--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(p), "--bind", "127.0.0.1", "--save", "", ...persistence, "--daemonize", "no", "--loglevel", "warning"],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${p}`;
  try {
    await waitForRedis(url);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    url,
    port: p,
    pid: child.pid!,
    async stop() {
      // SIGTERM: with an append-only file, Redis flushes it before exiting.
      if (child.exitCode === null) child.kill(options.dataDir ? "SIGTERM" : "SIGKILL");
      await exited;
    },
  };
}

/**
 * Redis processes started together in one scratch folder, all stopped (SIGKILL, by pid) at
 * once. Stopping waits for each to exit, however it ended: a test may have killed one.
 */
export function processGroup(name: string) {
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
  const children: ChildProcess[] = [];
  const exits: Array<Promise<void>> = [];
  return {
    dir,
    spawn(args: string[]): { host: string; pid: number } {
      const child = spawn("redis-server", args, { stdio: "ignore" });
      children.push(child);
      exits.push(new Promise((resolve) => child.once("exit", () => resolve())));
      return { host: "127.0.0.1", pid: child.pid! };
    },
    async stop(): Promise<void> {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      await Promise.all(exits);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
