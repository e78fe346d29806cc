/** The ceiling: bare Express serving the same dashboard page, with no session at all. */
import path from "node:path";
import express from "express";

const app = express();
app.set("view engine", "ejs");
app.set("views", path.join(__dirname, "..", "views"));
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
