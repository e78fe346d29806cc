import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import type { AccountSource } from "../../src/package/index";

/** A site's own user row: an integer id, as many sites have, and a password kept in the clear for the test. */
export interface SiteRow {
  id: number;
  name: string;
  email: string;
  password: string;
}

/** The package's account contract over a site's rows: looked up by the id as a string, passwords checked. */
export function accountsOf(rows: SiteRow[]): AccountSource {
  const rowOf = (id: unknown) => rows.find((r) => String(r.id) === String(id));
  return {
    findById: async (id) => {
      const row = rowOf(id);
      return row ? { id: String(row.id), name: row.name, email: row.email } : null;
    },
    verifyPassword: async (id, password) => rowOf(id)?.password === password,
  };
}

/**
 * Passport as a site sets it up for its own sign-in: passport-local on email and password,
 * the row's id in the session, the whole row back as req.user.
 */
export function localPassport<R extends SiteRow>(rows: R[]): InstanceType<typeof Passport> {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ usernameField: "email" }, (email, password, done) => {
      const row = rows.find((r) => r.email === email);
      done(null, row && row.password === password ? row : false);
    }),
  );
  passport.serializeUser((user, done) => done(null, (user as R).id));
  passport.deserializeUser((id: number, done) => done(null, rows.find((r) => r.id === id) ?? false));
  return passport;
}
