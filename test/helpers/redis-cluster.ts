import { spawnSync } from "node:child_process";
import path from "node:path";
import { freePort, hasRedisServerBinary, NO_REDIS_SERVER, processGroup, waitForRedis } from "./redis-server";

export interface RedisCluster {
  /** host:port of every node, masters first. */
  nodes: Array<{ host: string; port: number; pid: number }>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster on free loopback ports: `masters` masters with `replicas` replicas
 * each, created with redis-cli --cluster create, stopped by pid.
 */
export async function startRedisCluster(masters = 3, replicas = 1): Promise<RedisCluster> {
  if (!hasRedisServerBinary()) throw new Error(NO_REDIS_SERVER);
  const group = processGroup("redis-cluster");
  const { dir, stop } = group;
  const nodes: RedisCluster["nodes"] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await freePort();
      const node = group.spawn([
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        path.join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout",
        "2000",
        "--repl-diskless-sync-delay",
        "0",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--loglevel",
        "warning",
      ]);
      nodes.push({ ...node, port });
    }
    await Promise.all(nodes.map((n) => waitForRedis(`redis://${n.host}:${n.port}`)));
    const create = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `${n.host}:${n.port}`), "--cluster-replicas", String(replicas), "--cluster-yes"],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    // Wait until every node reports the cluster healthy.
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      for (;;) {
        const info = spawnSync("redis-cli", ["-p", String(n.port), "cluster", "info"], { encoding: "utf8" }).stdout;
        if (info.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster not ready on ${n.port}: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // And until every replica is in sync with its master, so a failover can promote it.
    for (const n of nodes) {
      for (;;) {
        const info = spawnSync("redis-cli", ["-p", String(n.port), "info", "replication"], { encoding: "utf8" }).stdout;
        if (info.includes("role:master") || info.includes("master_link_status:up")) break;
        if (Date.now() > deadline) throw new Error(`replica on ${n.port} not in sync: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
