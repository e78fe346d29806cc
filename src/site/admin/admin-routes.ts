import { type Request, type Response, Router } from "express";
import { isHandle, isRole, ROLES, setFlash } from "../../package";
import { answerRefusal, clientIp, cursorOf, describeActivity, sessionRows, userAgentOf } from "../../package/site-kit-entry";
import type { RouteDeps } from "../app-deps";
import { type Actor, setDisabled, setRole } from "../users/account-admin";
import { isActiveAdmin, isLastActiveAdmin, type User } from "../users/user-repository";
import { describeAudit } from "./describe-audit";

const PAGE_SIZE = 20;
const BY_ADMIN = "an administrator";

interface Refusal {
  status: number;
  message: string;
}

/** Checked before an action asks for the password: a reason not to do it, or null. */
type Guard = (req: Request, user: User) => Promise<Refusal | null> | Refusal | null;

const isUserId = (value: unknown): value is string => typeof value === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(value);

/**
 * The admin console: find accounts, see and end their sessions, change roles, disable them.
 * Every action is a CSRF-checked POST inside the administrator's re-authentication window
 * (or with the password in the same form), recorded in the account's activity and in the
 * audit log.
 */
export function adminRoutes(deps: RouteDeps): Router {
  const { users, sessions, activity, passwordChecks, now, kit, requireRole } = deps;
  const router = Router();
  router.use("/admin", requireRole("admin"));

  router.get("/admin", (_req, res) => res.redirect(303, "/admin/users"));

  router.get("/admin/users", async (req, res) => {
    const q = typeof req.query.q === "string" ? req.query.q.trim().slice(0, 254) : "";
    const offset = Math.min(Math.max(0, Number(cursorOf(req.query.offset) ?? 0)), 1_000_000);
    const found = await users.findByEmailPrefix(q, { offset, limit: PAGE_SIZE + 1 });
    res.render("admin/users", {
      title: "Accounts",
      q,
      offset,
      users: found.slice(0, PAGE_SIZE),
      more: found.length > PAGE_SIZE,
      pageSize: PAGE_SIZE,
    });
  });

  async function loadUser(req: Request, res: Response): Promise<User | null> {
    const user = isUserId(req.params.id) ? await users.findById(req.params.id) : null;
    if (!user) res.status(404).render("error", { title: "Account not found", status: 404, message: "There is no account with that id." });
    return user;
  }

  async function renderUser(req: Request, res: Response, user: User, status = 200, error: string | null = null) {
    const page = await activity.list(user.id, { before: cursorOf(req.query.before), limit: PAGE_SIZE });
    res.status(status).render("admin/user", {
      title: user.email,
      account: user,
      rows: sessionRows(await sessions.listUserSessions(user.id), req.sessionUser!.sessionHandle, now()),
      activity: page.entries.map((e) => describeActivity(e, kit.locate)),
      next: page.next ?? null,
      roles: ROLES,
      askPassword: passwordChecks.needsPassword(req),
      error,
    });
  }

  router.get("/admin/users/:id", async (req, res) => {
    const user = await loadUser(req, res);
    if (user) await renderUser(req, res, user);
  });

  /**
   * Loads the account, checks the administrator's password when needed, acts, audits. An act
   * answers what it did, or null when the session it names was not found.
   */
  function action(name: string, act: (req: Request, user: User, actor: Actor) => Promise<string | null>, guard?: Guard) {
    return async (req: Request, res: Response) => {
      const user = await loadUser(req, res);
      if (!user) return;
      const refusal = guard ? await guard(req, user) : null;
      if (refusal) return renderUser(req, res, user, refusal.status, refusal.message);
      const actor: Actor = { by: BY_ADMIN, ip: clientIp(req), userAgent: userAgentOf(req) };
      const done = await passwordChecks.withReauth(req, req.body?.password, () => act(req, user, actor));
      if (done.refused) return answerRefusal(res, done.refused, (status, message) => renderUser(req, res, user, status, message));
      const outcome = done.value;
      if (outcome === null) return renderUser(req, res, user, 404, "That session was not found. It may have ended already.");
      await activity.audit({
        adminId: req.sessionUser!.id,
        // The reference site's accounts all have an email.
        adminEmail: req.sessionUser!.email ?? "",
        action: name,
        targetUserId: user.id,
        targetEmail: user.email,
        detail: outcome,
        ip: actor.ip,
      });
      setFlash(req, "success", `Done: ${outcome}.`);
      res.redirect(303, `/admin/users/${encodeURIComponent(user.id)}`);
    };
  }

  router.post(
    "/admin/users/:id/sessions/:handle/revoke",
    action("sign out session", async (req, user) => {
      const handle = req.params.handle;
      if (!isHandle(handle)) return null;
      // Named as its row shows it: the handle is the page's, never a person's word for a device.
      const target = (await kit.getUserSessions(user.id)).find((s) => s.handle === handle);
      if (!target || !(await kit.revokeSession(req, handle, { userId: user.id, by: BY_ADMIN }))) return null;
      const [row] = sessionRows([target], null, now());
      return `signed out ${row.name ? `"${row.name}" (${row.device})` : row.device}, ${row.ip}`;
    }),
  );

  router.post(
    "/admin/users/:id/sessions/revoke-all",
    action("sign out every session", async (req, user) => {
      const ended = await kit.revokeAllOtherSessions(req, { userId: user.id, by: BY_ADMIN });
      return `signed out ${ended} session${ended === 1 ? "" : "s"}`;
    }),
  );

  /** Refuses what would leave the site with no administrator who can act. */
  const keepsAnAdmin = async (user: User, after: Partial<User>): Promise<Refusal | null> => {
    if (!isActiveAdmin(user) || isActiveAdmin({ ...user, ...after }) || !(await isLastActiveAdmin(users, user.id))) return null;
    return { status: 409, message: `${user.email} is the only administrator. Make another account an administrator first.` };
  };

  router.post(
    "/admin/users/:id/role",
    action(
      "change role",
      async (req, user, actor) => {
        const role = req.body?.role;
        if (!isRole(role)) return `role left as ${user.role} (no such role)`;
        await setRole(users, kit, user.email, role, actor);
        return `role set to ${role}`;
      },
      (req, user) => (isRole(req.body?.role) ? keepsAnAdmin(user, { role: req.body.role }) : null),
    ),
  );

  router.post(
    "/admin/users/:id/disable",
    action(
      "disable account",
      async (_req, user, actor) => {
        await setDisabled(users, kit, user.email, true, actor);
        return "account disabled and every session ended";
      },
      async (req, user) => {
        if (user.id === req.sessionUser!.id) return { status: 400, message: "You cannot disable your own account. Another administrator can." };
        return keepsAnAdmin(user, { disabled: true });
      },
    ),
  );

  router.post(
    "/admin/users/:id/enable",
    action("enable account", async (_req, user, actor) => {
      await setDisabled(users, kit, user.email, false, actor);
      return "account enabled";
    }),
  );

  router.get("/admin/audit", async (req, res) => {
    const page = await activity.listAudit({ before: cursorOf(req.query.before), limit: PAGE_SIZE });
    res.render("admin/audit", {
      title: "Audit log",
      entries: page.entries.map((e) => describeAudit(e)),
      next: page.next ?? null,
      first: req.query.before === undefined,
    });
  });

  return router;
}
