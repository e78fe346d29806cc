import { randomBytes } from "node:crypto";
import { EmbeddedUserRepository } from "../src/site/users/embedded-user-repository";
import { RedisUserRepository } from "../src/site/users/redis-user-repository";
import type { User, UserRepository } from "../src/site/users/user-repository";
import { connectTestRedis, uniquePrefix } from "./helpers/stores";
import { redisName, topology } from "./helpers/topology";

/** One accounts store under test, and how to let go of it. */
interface Subject {
  users: UserRepository;
  close(): Promise<void>;
}

const stores: Array<[string, () => Promise<Subject>]> = [
  [
    redisName(),
    async () => {
      const client = await connectTestRedis();
      return { users: new RedisUserRepository(client, `${uniquePrefix()}user:`), close: () => client.close() };
    },
  ],
];
if (topology() === "single") stores.push(["embedded", async () => ({ users: new EmbeddedUserRepository(), close: async () => {} })]);

/**
 * What both accounts stores must do alike (the reference site's, Redis and embedded): here,
 * changes compared and set on the account's credential version and confirmation, which sign-up
 * and its confirmation rely on.
 */
describe.each(stores)("accounts store contract: %s", (_name, open) => {
  let subject: Subject;
  beforeEach(async () => {
    subject = await open();
  });
  afterEach(async () => subject.close());

  /** An account as a sign-up leaves it: unconfirmed, at credential version 1. */
  async function signedUp(): Promise<User> {
    const user = await subject.users.create({ email: `u-${randomBytes(6).toString("hex")}@example.com`, name: "Ada", passwordHash: "first", confirmed: false });
    if (!user) throw new Error("the account was not created");
    return user;
  }

  test("when an update expects the credential version and confirmation the account has, then it applies, once", async () => {
    const user = await signedUp();
    const retaken = await subject.users.update(user.id, { name: "Grace", passwordHash: "second", newCredentials: true }, { cv: 1, confirmed: false });
    expect(retaken).toMatchObject({ name: "Grace", passwordHash: "second", cv: 2, confirmed: false });
    // The same expectation again: the account has moved on.
    expect(await subject.users.update(user.id, { passwordHash: "third", newCredentials: true }, { cv: 1, confirmed: false })).toBeNull();
    const confirmed = await subject.users.update(user.id, { confirmed: true }, { cv: 2, confirmed: false });
    expect(confirmed).toMatchObject({ passwordHash: "second", cv: 2, confirmed: true });
    expect(await subject.users.findById(user.id)).toEqual(confirmed);
  });

  test("when two takeovers decided on the same read run at once, then one applies and the account holds its password", async () => {
    const user = await signedUp();
    const results = await Promise.all(
      ["second", "third"].map((passwordHash) => subject.users.update(user.id, { passwordHash, newCredentials: true }, { cv: user.cv, confirmed: false })),
    );
    const applied = results.filter((r): r is User => r !== null);
    expect(applied).toHaveLength(1);
    expect(await subject.users.findById(user.id)).toMatchObject({ passwordHash: applied[0].passwordHash, cv: 2, confirmed: false });
  });

  test("when a confirmation and a takeover decided on the same read run at once, then one applies: never a confirmed account with the takeover's password", async () => {
    const user = await signedUp();
    const [confirmed, retaken] = await Promise.all([
      subject.users.update(user.id, { confirmed: true }, { cv: user.cv, confirmed: false }),
      subject.users.update(user.id, { passwordHash: "second", newCredentials: true }, { cv: user.cv, confirmed: false }),
    ]);
    expect([confirmed, retaken].filter((r) => r !== null)).toHaveLength(1);
    const stored = await subject.users.findById(user.id);
    expect(stored).toMatchObject(confirmed ? { passwordHash: "first", cv: 1, confirmed: true } : { passwordHash: "second", cv: 2, confirmed: false });
  });

  test("when the account was confirmed since it was read, then a takeover expecting it unconfirmed changes nothing", async () => {
    const user = await signedUp();
    await subject.users.update(user.id, { confirmed: true });
    expect(
      await subject.users.update(user.id, { name: "Mallory", passwordHash: "second", newCredentials: true }, { cv: user.cv, confirmed: false }),
    ).toBeNull();
    expect(await subject.users.findById(user.id)).toMatchObject({ name: "Ada", passwordHash: "first", cv: 1, ver: 2, confirmed: true });
  });

  test("when an update expects nothing, then it applies whatever the account's versions; a deleted account is never brought back", async () => {
    const user = await signedUp();
    await subject.users.update(user.id, { passwordHash: "second", newCredentials: true });
    expect(await subject.users.update(user.id, { name: "Grace" })).toMatchObject({ name: "Grace", cv: 2, ver: 3 });
    // Only what is given is compared.
    expect(await subject.users.update(user.id, { org: "acme" }, { confirmed: false })).toMatchObject({ org: "acme", cv: 2 });
    expect(await subject.users.update(user.id, { org: "other" }, { cv: 1 })).toBeNull();
    await subject.users.delete(user.id);
    expect(await subject.users.update(user.id, { confirmed: true }, { cv: 2 })).toBeNull();
    expect(await subject.users.update(user.id, { confirmed: true })).toBeNull();
    expect(await subject.users.findById(user.id)).toBeNull();
  });
});
