import express, { type Express } from "express";
import session from "express-session";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import type { AccountSource, Sessions } from "../../src/package/index";

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
 * the row's id in the session, the whole row back as req.user. `release`: the Passport class
 * of another release (0.4, which sites still run), by default the one the site develops on.
 */
export function localPassport<R extends SiteRow>(rows: R[], release: typeof Passport = Passport): InstanceType<typeof Passport> {
  const passport = new release();
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

/**
 * An Express site's start as Passport's guide has it, the package dropped in: its body parser,
 * its own session() on the package's store, Passport, then track(). Routes come after.
 */
export function passportSite<R extends SiteRow>(
  sessions: Sessions,
  rows: R[],
  secret: string,
  release: typeof Passport = Passport,
): { app: Express; passport: InstanceType<typeof Passport> } {
  const passport = localPassport(rows, release);
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(sessions.track());
  return { app, passport };
}
