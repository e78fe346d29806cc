import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import pino from "pino";
import { createClient } from "redis";
import { useViews } from "../src/site/app";
import { requestLogger } from "../src/site/middleware/request-logger";
import { securityHeaders } from "../src/site/middleware/security-headers";

declare module "express-session" {
  interface SessionData {
    peerUser?: { id: string; name: string; email: string };
  }
}

async function main() {
  const client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
  const app = express();
  // The same views, rendered the same way as the product renders them.
  useViews(app);
  // PEER_EXTRAS=1: the product's security headers and request log line too, so the session
  // layers alone differ (an analysis row in npm run bench, not the peer of the targets).
  if (process.env.PEER_EXTRAS) {
    app.use(securityHeaders(true));
    app.use(requestLogger(pino(pino.destination({ dest: "/dev/null", sync: false, minLength: 4096 }))));
  }
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      store: new RedisStore({ client, prefix: "peer:" }),
      secret: "peer-secret-peer-secret-peer-secret",
      name: "sid",
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: "lax", maxAge: 30 * 24 * 3600 * 1000 },
    }),
  );
  app.post("/login", (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.peerUser = { id: "peer-user", name: "Ada Lovelace", email: "ada@example.com" };
      res.redirect(303, "/dashboard");
    });
  });
  app.get("/dashboard", (req, res) => {
    const user = req.session.peerUser;
    if (!user) return res.redirect(303, "/login");
    res.render("dashboard", {
      title: "Dashboard",
      currentUser: { ...user, role: "user" },
      csrfToken: () => "0".repeat(32),
      flash: () => null,
      signInNotice: null,
      path: "/dashboard",
    });
  });
  app.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\n"));
}

void main();
