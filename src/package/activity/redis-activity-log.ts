import type { RedisClientType } from "redis";
import { Script } from "../redis/script";
import { type ActivityEntry, type ActivityLog, type ActivityLogOptions, type AuditEntry, type Page, pageOf } from "./activity-log";

/**
 * Append to a log kept as a sorted set scored by entry id (time in ms, made unique), trim it
 * to its bound and set its expiry, in one step on one key. ARGV: now, entry JSON without id,
 * max entries, ttl ms (0: none). Returns the id given.
 */
const append = new Script(`
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local id = tonumber(ARGV[1])
if last[2] and tonumber(last[2]) >= id then id = tonumber(last[2]) + 1 end
redis.call('ZADD', KEYS[1], id, string.format('%d', id) .. ' ' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return id
`);

/**
 * Key layout:
 *   activity:{<userId>}   sorted set of "<id> <json>" scored by id; trimmed, expiring
 *   activity:audit         sorted set of the administrators' actions; trimmed
 * The braces share the user's Cluster hash tag.
 */
export class RedisActivityLog implements ActivityLog {
  constructor(
    private readonly client: RedisClientType,
    private readonly options: ActivityLogOptions,
    private readonly prefix = "activity:",
  ) {}

  private userKey(userId: string): string {
    return `${this.prefix}{${userId}}`;
  }

  async record(userId: string, entry: Omit<ActivityEntry, "id" | "at">): Promise<void> {
    const now = Date.now();
    await append.run(this.client, this.userKey(userId), [now, JSON.stringify({ ...entry, at: now }), this.options.maxPerUser, this.options.retention]);
  }

  async list(userId: string, options: { before?: number; limit: number }): Promise<Page<ActivityEntry>> {
    const cutoff = Date.now() - this.options.retention;
    const page = await this.read<ActivityEntry>(this.userKey(userId), options);
    return { ...page, entries: page.entries.filter((e) => e.at > cutoff) };
  }

  async forget(userId: string): Promise<void> {
    await this.client.del(this.userKey(userId));
  }

  async audit(entry: Omit<AuditEntry, "id" | "at">): Promise<void> {
    const now = Date.now();
    await append.run(this.client, `${this.prefix}audit`, [now, JSON.stringify({ ...entry, at: now }), this.options.maxAudit, 0]);
  }

  listAudit(options: { before?: number; limit: number }): Promise<Page<AuditEntry>> {
    return this.read<AuditEntry>(`${this.prefix}audit`, options);
  }

  private async read<T extends { id: number }>(key: string, { before, limit }: { before?: number; limit: number }): Promise<Page<T>> {
    const max = before === undefined ? "+inf" : `(${before}`;
    const members = await this.client.zRange(key, max, "-inf", { BY: "SCORE", REV: true, LIMIT: { offset: 0, count: limit + 1 } });
    const entries = members.map((m) => {
      const space = m.indexOf(" ");
      return { ...JSON.parse(m.slice(space + 1)), id: Number(m.slice(0, space)) } as T;
    });
    return pageOf(entries, limit);
  }
}
