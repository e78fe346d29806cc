import type { RedisClientType } from "redis";
import { isRole } from "../../package";
import { durableClient, type ReplicaWait, Script, waitForReplicas } from "../../package/redis-entry";
import { normalizeEmail } from "../../package/site-kit-entry";
import { isActiveAdmin, type NewUser, newUser, type User, type UserChanges, type UserExpectation, type UserRepository } from "./user-repository";

/**
 * Change an existing user (a deleted account is not brought back) and bump its versions in
 * the same step, so concurrent changes each get their own version; when the account no longer
 * has the credential version or the confirmation the change was decided on, nothing changes.
 * ARGV: "1" to bump the credential version too; the expected credential version ("" for
 * any); "1" when the account is expected unconfirmed, "0" confirmed, "" either; then
 * field/value pairs. Returns the new hash, or false when nothing changed.
 */
const changeUser = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[2] ~= '' and (tonumber(redis.call('HGET', KEYS[1], 'cv')) or 1) ~= tonumber(ARGV[2]) then return false end
if ARGV[3] ~= '' and (redis.call('HGET', KEYS[1], 'unconfirmed') == '1') ~= (ARGV[3] == '1') then return false end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[1], 'cv', 1) end
return redis.call('HGETALL', KEYS[1])
`);

/**
 * Key layout:
 *   user:{<id>}          hash of the account; the braces are the Cluster hash tag it shares
 *                        with the user's session index
 *   user:email:<email>   the id of the account with that (lower-cased) email
 *   user:emails          every email, in a sorted set of equal scores: prefix search by
 *                        ZRANGE BYLEX, for the admin console
 *   user:admins          the ids of enabled administrators, kept with every change of role or
 *                        state; built from the accounts when found empty (see activeAdmins)
 */
export class RedisUserRepository implements UserRepository {
  constructor(
    private readonly client: RedisClientType,
    private readonly prefix = "user:",
    /** Wait for replicas after a password change (REDIS_WAIT_REPLICAS). */
    private readonly replicaWait?: ReplicaWait,
  ) {}

  private userKey(id: string): string {
    return `${this.prefix}{${id}}`;
  }

  private emailKey(email: string): string {
    return `${this.prefix}email:${email}`;
  }

  private emailsKey(): string {
    return `${this.prefix}emails`;
  }

  private adminsKey(): string {
    return `${this.prefix}admins`;
  }

  /** Keeps user:admins in step with one account's role and state. */
  private async indexAdmin(user: User): Promise<void> {
    if (isActiveAdmin(user)) await this.client.sAdd(this.adminsKey(), user.id);
    else await this.client.sRem(this.adminsKey(), user.id);
  }

  async create(input: NewUser): Promise<User | null> {
    const email = normalizeEmail(input.email);
    const user = newUser(input, email);
    // The email key is claimed first, so two sign-ups with one email cannot both succeed.
    const claimed = await this.client.set(this.emailKey(email), user.id, { NX: true });
    if (claimed !== "OK") {
      const holder = await this.client.get(this.emailKey(email));
      // A claim whose account was never written (a crash between the two writes) is stale.
      if (!holder || (await this.client.exists(this.userKey(holder)))) return null;
      await this.client.set(this.emailKey(email), user.id);
    }
    await this.client.hSet(this.userKey(user.id), toHash(user));
    await this.client.zAdd(this.emailsKey(), { score: 0, value: email });
    if (isActiveAdmin(user)) await this.indexAdmin(user);
    return user;
  }

  async findById(id: string): Promise<User | null> {
    return fromHash(await this.client.hGetAll(this.userKey(id)));
  }

  async findByEmail(email: string): Promise<User | null> {
    const id = await this.client.get(this.emailKey(normalizeEmail(email)));
    return id ? this.findById(id) : null;
  }

  async update(id: string, changes: UserChanges, expected: UserExpectation = {}): Promise<User | null> {
    const { newCredentials, ...fields } = changes;
    const pairs = Object.entries(toHashFields(fields))
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [k, v ?? ""]);
    // A credential change waits for replicas: written, and waited for, on its own connection.
    const client = newCredentials ? durableClient(this.client, this.replicaWait) : this.client;
    const expectedUnconfirmed = expected.confirmed === undefined ? "" : expected.confirmed ? "0" : "1";
    const args = [newCredentials ? "1" : "0", expected.cv === undefined ? "" : String(expected.cv), expectedUnconfirmed, ...pairs];
    const reply = (await changeUser.run(client, this.userKey(id), args)) as string[] | null;
    if (!reply) return null;
    if (newCredentials) await waitForReplicas(client, [this.userKey(id)], this.replicaWait);
    const hash: Record<string, string> = {};
    for (let i = 0; i < reply.length; i += 2) hash[reply[i]] = reply[i + 1];
    const user = fromHash(hash);
    if (user && (fields.role !== undefined || fields.disabled !== undefined)) await this.indexAdmin(user);
    return user;
  }

  async delete(id: string): Promise<void> {
    const user = await this.findById(id);
    await this.client.del(this.userKey(id));
    await this.client.sRem(this.adminsKey(), id);
    if (user && (await this.client.get(this.emailKey(user.email))) === id) {
      await this.client.del(this.emailKey(user.email));
      await this.client.zRem(this.emailsKey(), user.email);
    }
  }

  /**
   * Read from user:admins, each id checked against its account (the set and the accounts live
   * in different Cluster slots, so they are not changed in one step). The set is empty only
   * before it was first built, since an administrator is asking: then it is built once from
   * every account, in pages of the email index.
   */
  async activeAdmins(): Promise<string[]> {
    let ids = await this.client.sMembers(this.adminsKey());
    if (ids.length === 0) {
      for (let offset = 0; ; offset += 500) {
        const emails = await this.client.zRange(this.emailsKey(), offset, offset + 499);
        const users = await Promise.all(emails.map((e) => this.findByEmail(e)));
        const admins = users.filter((u): u is User => u !== null && isActiveAdmin(u)).map((u) => u.id);
        if (admins.length > 0) await this.client.sAdd(this.adminsKey(), admins);
        if (emails.length < 500) break;
      }
      ids = await this.client.sMembers(this.adminsKey());
    }
    const users = await Promise.all(ids.map((id) => this.findById(id)));
    return users.filter((u): u is User => u !== null && isActiveAdmin(u)).map((u) => u.id);
  }

  async findByEmailPrefix(prefix: string, { offset, limit }: { offset: number; limit: number }): Promise<User[]> {
    const p = normalizeEmail(prefix);
    // A 0xFF byte sorts after every byte of UTF-8 text, so [p, p+0xFF] holds every email starting with p.
    const upTo = Buffer.concat([Buffer.from(`[${p}`), Buffer.from([0xff])]);
    const emails = await this.client.zRange(this.emailsKey(), `[${p}`, upTo, { BY: "LEX", LIMIT: { offset, count: limit } });
    const users = await Promise.all(emails.map((e) => this.findByEmail(e)));
    return users.filter((u): u is User => u !== null);
  }
}

function toHash(user: User): Record<string, string> {
  return {
    id: user.id,
    email: user.email,
    ver: String(user.ver),
    cv: String(user.cv),
    createdAt: String(user.createdAt),
    ...(toHashFields(user) as Record<string, string>),
  };
}

/** The changeable fields as hash values. */
function toHashFields(fields: Partial<User>): Record<string, string | undefined> {
  return {
    name: fields.name,
    passwordHash: fields.passwordHash,
    role: fields.role,
    org: fields.org === undefined ? undefined : (fields.org ?? ""),
    disabled: fields.disabled === undefined ? undefined : fields.disabled ? "1" : "0",
    // Accounts from before confirmation existed have no field: confirmed.
    unconfirmed: fields.confirmed === undefined ? undefined : fields.confirmed ? "0" : "1",
  };
}

function fromHash(h: Record<string, string>): User | null {
  if (!h.id || !h.email || !h.passwordHash) return null;
  return {
    id: h.id,
    email: h.email,
    name: h.name ?? "",
    passwordHash: h.passwordHash,
    role: isRole(h.role) ? h.role : "user",
    org: h.org ? h.org : null,
    ver: Number(h.ver) || 1,
    cv: Number(h.cv) || 1,
    createdAt: Number(h.createdAt) || 0,
    disabled: h.disabled === "1",
    confirmed: h.unconfirmed !== "1",
  };
}
