import { normalizeEmail } from "../../package/site-kit-entry";
import {
  applyChanges,
  isActiveAdmin,
  meetsExpectation,
  type NewUser,
  newUser,
  type User,
  type UserChanges,
  type UserExpectation,
  type UserRepository,
} from "./user-repository";

/** Accounts in this process's memory, for the embedded store. Lost at exit by design. */
export class EmbeddedUserRepository implements UserRepository {
  private readonly users = new Map<string, User>();
  private readonly byEmail = new Map<string, string>();

  async create(input: NewUser): Promise<User | null> {
    const email = normalizeEmail(input.email);
    if (this.byEmail.has(email)) return null;
    const user = newUser(input, email);
    this.users.set(user.id, user);
    this.byEmail.set(email, user.id);
    return { ...user };
  }

  async findById(id: string): Promise<User | null> {
    const user = this.users.get(id);
    return user ? { ...user } : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const id = this.byEmail.get(normalizeEmail(email));
    return id ? this.findById(id) : null;
  }

  async update(id: string, changes: UserChanges, expected?: UserExpectation): Promise<User | null> {
    const user = this.users.get(id);
    // Read and written with no await between: nothing else runs in between.
    if (!user || !meetsExpectation(user, expected)) return null;
    const updated = applyChanges(user, changes);
    this.users.set(id, updated);
    return { ...updated };
  }

  async activeAdmins(): Promise<string[]> {
    return [...this.users.values()].filter(isActiveAdmin).map((u) => u.id);
  }

  async findByEmailPrefix(prefix: string, { offset, limit }: { offset: number; limit: number }): Promise<User[]> {
    const p = normalizeEmail(prefix);
    const emails = [...this.byEmail.keys()].filter((e) => e.startsWith(p)).sort();
    return emails.slice(offset, offset + limit).map((e) => ({ ...this.users.get(this.byEmail.get(e)!)! }));
  }

  async delete(id: string): Promise<void> {
    const user = this.users.get(id);
    if (!user) return;
    this.users.delete(id);
    this.byEmail.delete(user.email);
  }
}
