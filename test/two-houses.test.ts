import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.join(__dirname, "..");
const BIOME = path.join(ROOT, "node_modules", ".bin", "biome");

/** Lints one file placed in the tree (then removed), as `npm run lint` would see it. */
function lint(relative: string, source: string): { status: number | null; output: string } {
  const file = path.join(ROOT, relative);
  writeFileSync(file, source);
  try {
    const result = spawnSync(BIOME, ["lint", relative], { cwd: ROOT, encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(file, { force: true });
  }
}

describe("two houses: the package and the reference site", () => {
  const probe = `probe-${randomBytes(4).toString("hex")}.ts`;

  test("when the site imports the package's insides, then lint fails; through the entry, it passes", () => {
    const inside = lint(`src/site/auth/${probe}`, 'import { setFlash } from "../../package/middleware/flash";\n\nexport const x = setFlash;\n');
    expect(inside.status).not.toBe(0);
    expect(inside.output).toContain("enters the package by its entry only");
    const entry = lint(`src/site/auth/${probe}`, 'import { setFlash } from "../../package";\n\nexport const x = setFlash;\n');
    expect(entry.output).not.toContain("enters the package by its entry only");
    expect(entry.status).toBe(0);
  });

  test("when the package imports anything of the site, then lint fails", () => {
    const result = lint(`src/package/auth/${probe}`, 'import { tooMany } from "../../site/auth/limits";\n\nexport const x = tooMany;\n');
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("knows nothing of the reference site");
  });

  test("when the package is packed, then the tarball holds the package's code and pages and no file of the site", () => {
    const packed = spawnSync("npm", ["pack", "--dry-run", "--json"], { cwd: ROOT, encoding: "utf8" });
    expect(packed.status).toBe(0);
    const files: string[] = JSON.parse(packed.stdout)[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain("package.json");
    expect(files).toContain("dist/package/index.js");
    expect(files).toContain("dist/package/index.d.ts");
    expect(files.some((f) => f.startsWith("views/sessions/"))).toBe(true);
    const site = files.filter((f) => /^(dist\/site\/|src\/|views\/(?!sessions\/)|public\/|test\/|bench\/|examples\/)/.test(f));
    expect(site).toEqual([]);
  });
});
