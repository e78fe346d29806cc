import { type ActivityEntry, type ActivityLog, type ActivityLogOptions, type AuditEntry, nextId, type Page, pageOf } from "./activity-log";

/** Activity in this process's memory, with the same bounds as in Redis. */
export class EmbeddedActivityLog implements ActivityLog {
  private readonly users = new Map<string, ActivityEntry[]>();
  private readonly auditLog: AuditEntry[] = [];

  constructor(private readonly options: ActivityLogOptions) {}

  async record(userId: string, entry: Omit<ActivityEntry, "id" | "at">): Promise<void> {
    const now = Date.now();
    const cutoff = now - this.options.retention;
    const list = (this.users.get(userId) ?? []).filter((e) => e.at > cutoff);
    list.unshift({ ...entry, at: now, id: nextId(now, list[0]?.id) });
    this.users.set(userId, list.slice(0, this.options.maxPerUser));
  }

  async list(userId: string, { before, limit }: { before?: number; limit: number }): Promise<Page<ActivityEntry>> {
    const cutoff = Date.now() - this.options.retention;
    const newest = (this.users.get(userId) ?? []).filter((e) => e.at > cutoff && (before === undefined || e.id < before));
    return pageOf(newest.slice(0, limit + 1), limit);
  }

  async forget(userId: string): Promise<void> {
    this.users.delete(userId);
  }

  async audit(entry: Omit<AuditEntry, "id" | "at">): Promise<void> {
    const now = Date.now();
    this.auditLog.unshift({ ...entry, at: now, id: nextId(now, this.auditLog[0]?.id) });
    this.auditLog.length = Math.min(this.auditLog.length, this.options.maxAudit);
  }

  async listAudit({ before, limit }: { before?: number; limit: number }): Promise<Page<AuditEntry>> {
    const newest = this.auditLog.filter((e) => before === undefined || e.id < before);
    return pageOf(newest.slice(0, limit + 1), limit);
  }
}
