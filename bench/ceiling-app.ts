import express from "express";
import { useViews } from "../src/site/app";

const app = express();
// The same views, rendered the same way as the product renders them.
useViews(app);
app.get("/dashboard", (_req, res) => {
  res.render("dashboard", {
    title: "Dashboard",
    currentUser: { id: "u", name: "Ada Lovelace", email: "ada@example.com", role: "user" },
    csrfToken: () => "0".repeat(32),
    flash: () => null,
    signInNotice: null,
    path: "/dashboard",
  });
});
app.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\n"));
