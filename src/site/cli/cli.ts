import { ConfigError } from "../../package";
import { loadConfig, usesRedis } from "../../package/site-kit-entry";
import { type Backend, openBackend } from "../backend";

/** What the command-line tools record as the actor in an account's activity. */
export const OPERATOR = { by: "an operator (command line)", ip: "", userAgent: "" };

export class UsageError extends Error {}

/**
 * Runs an operators' command against REDIS_URL: exit 0 on success, 1 when the account is not
 * found, 2 on a usage or configuration problem, always with a message rather than a trace.
 */
export function runCli(usage: string, work: (backend: Backend, args: string[]) => Promise<number>): void {
  const main = async (): Promise<number> => {
    const config = loadConfig();
    if (!usesRedis(config)) {
      throw new UsageError(
        "REDIS_URL is not set. Accounts on the embedded store live inside the running server only; " +
          "run the server with REDIS_URL to manage them from the command line.",
      );
    }
    const backend = await openBackend(config);
    try {
      return await work(backend, process.argv.slice(2));
    } finally {
      await backend.close();
    }
  };
  main().then(
    (code) => process.exit(code),
    (err) => {
      const known = err instanceof UsageError || err instanceof ConfigError;
      process.stderr.write(`${known ? "" : "error: "}${(err as Error).message}\n${err instanceof UsageError ? `usage: ${usage}\n` : ""}`);
      process.exit(known ? 2 : 1);
    },
  );
}

/** A plain text table: a header row, a rule, the rows; columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
