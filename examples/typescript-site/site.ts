// A site's app.ts as it would take the package: its own session(), its own sign-in
// (req.session.userId), accounts without an email, the sessions page and the error handler.
import express from "express";
import session from "express-session";
import { type AccountSource, createSessions } from "express-user-sessions";

declare module "express-session" {
  interface SessionData {
    userId?: number;
  }
}

const users = new Map([[1, { id: 1, username: "ada", name: "Ada Lovelace" }]]);
const accounts: AccountSource = {
  findById: async (id) => {
    const user = users.get(Number(id));
    return user ? { id: String(user.id), name: user.name } : null;
  },
  verifyPassword: async () => false,
};
const secret = process.env.SESSION_SECRET ?? "a secret of the strict site, long enough";

const sessions = createSessions({ accounts, redis: process.env.REDIS_URL, secret, userIdOf: (req) => req.session.userId });
export const app = express();
app.use(session({ store: sessions.store, secret, resave: false, saveUninitialized: false }));
app.use(sessions.track());
app.use("/account", sessions.router());
app.use(sessions.errorHandler());
export const ready: Promise<void> = sessions.ready();
