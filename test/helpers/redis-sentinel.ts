import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, hasRedisServerBinary, NO_REDIS_SERVER, processGroup, waitForRedis } from "./redis-server";

export interface RedisSentinelSetup {
  name: string;
  master: { host: string; port: number; pid: number };
  replica: { host: string; port: number; pid: number };
  sentinels: Array<{ host: string; port: number; pid: number }>;
  stop(): Promise<void>;
}

/** One master, one replica and three sentinels on free loopback ports, stopped by pid. */
export async function startRedisSentinel(name = "sessions"): Promise<RedisSentinelSetup> {
  if (!hasRedisServerBinary()) throw new Error(NO_REDIS_SERVER);
  const group = processGroup("redis-sentinel");
  const { dir, stop } = group;
  const server = (port: number, extra: string[]) => ({
    ...group.spawn(["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning", ...extra]),
    port,
  });
  try {
    // No delay before the first sync (Redis 7 waits 5 s by default for more replicas to join).
    const master = server(await freePort(), ["--repl-diskless-sync-delay", "0"]);
    await waitForRedis(`redis://127.0.0.1:${master.port}`);
    const replica = server(await freePort(), ["--replicaof", "127.0.0.1", String(master.port)]);
    await waitForRedis(`redis://127.0.0.1:${replica.port}`);
    // Each sentinel is told the others (the lines Sentinel itself writes to its config once it
    // has heard them), rather than left to find them through the master's hello channel: a
    // failover needs a quorum, and a sentinel that has not heard the others yet cannot reach it.
    const ports = [await freePort(), await freePort(), await freePort()];
    const ids = ports.map(() => randomBytes(20).toString("hex"));
    const sentinels = [];
    for (const [i, port] of ports.entries()) {
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel myid ${ids[i]}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel parallel-syncs ${name} 1`,
          ...ports.flatMap((other, j) => (j === i ? [] : [`sentinel known-sentinel ${name} 127.0.0.1 ${other} ${ids[j]}`])),
        ].join("\n"),
      );
      sentinels.push({ ...group.spawn([conf, "--sentinel"]), port });
    }
    await Promise.all(sentinels.map((s) => waitForRedis(`redis://127.0.0.1:${s.port}`)));
    // Wait until the replica is in sync and the sentinels know it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const info = spawnSync("redis-cli", ["-p", String(replica.port), "info", "replication"], { encoding: "utf8" }).stdout;
      if (info.includes("master_link_status:up")) break;
      if (Date.now() > deadline) throw new Error(`the replica did not sync: ${info}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (;;) {
      const out = spawnSync("redis-cli", ["-p", String(sentinels[0].port), "sentinel", "replicas", name], { encoding: "utf8" }).stdout;
      if (out.includes(String(replica.port))) break;
      if (Date.now() > deadline) throw new Error("the sentinels did not find the replica");
      await new Promise((r) => setTimeout(r, 100));
    }
    // And until every sentinel lists the others.
    for (const sentinel of sentinels) {
      for (;;) {
        const out = spawnSync("redis-cli", ["-p", String(sentinel.port), "sentinel", "sentinels", name], { encoding: "utf8" }).stdout;
        if (sentinels.every((other) => other === sentinel || out.includes(String(other.port)))) break;
        if (Date.now() > deadline) throw new Error(`sentinel ${sentinel.port} did not find the others: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { name, master, replica, sentinels, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
