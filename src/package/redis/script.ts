import { createHash } from "node:crypto";
import type { RedisClientType } from "redis";

/**
 * A Lua script that touches a single key (every script of the product does), so it runs unchanged on
 * Redis Cluster. Sent by SHA; loaded on the first NOSCRIPT (a restarted or new server).
 */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClientType, key: string, args: Array<string | number>): Promise<unknown> {
    const options = { keys: [key], arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha, options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, options);
    }
  }
}
