import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";

// What a site installs is the tarball, and what a person reads there is its README: both are
// checked as npm packs them, not as they sit in this repository.

const ROOT = path.join(__dirname, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

let work: string;
let tarball: string;
let unpacked: string;
let files: string[];
let readme: string;

beforeAll(() => {
  expect(spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" }).status).toBe(0);
  work = mkdtempSync(path.join(tmpdir(), "tarball-"));
  const packed = spawnSync("npm", ["pack", "./dist/package", "--pack-destination", work, "--json"], { cwd: ROOT, encoding: "utf8" });
  expect(packed.status).toBe(0);
  tarball = path.join(work, JSON.parse(packed.stdout)[0].filename);
  unpacked = path.join(work, "unpacked");
  expect(spawnSync("mkdir", ["-p", unpacked]).status).toBe(0);
  expect(spawnSync("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1"]).status).toBe(0);
  files = readdirSync(unpacked, { recursive: true, encoding: "utf8" }).map((f) => f.split(path.sep).join("/"));
  readme = readFileSync(path.join(unpacked, "README.md"), "utf8");
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Markdown without its code: fenced blocks and inline code spans hold examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Every link target of a Markdown page: inline links and images, reference definitions, and HTML href/src. */
function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  return [
    ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]),
    ...[...text.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]),
  ];
}

/** The anchors of a page's headings, as GitHub and npm make them. */
function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => m[1]);
  return new Set(
    headings.map((h) =>
      h
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-"),
    ),
  );
}

/** A Markdown table's rows under a heading, as cells. */
function tableRows(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start).toBeGreaterThan(-1);
  const rest = markdown.slice(start + heading.length + 2);
  const level = heading.match(/^#+/)![0];
  const next = rest.search(new RegExp(`^#{1,${level.length}} `, "m"));
  return rest
    .slice(0, next === -1 ? undefined : next)
    .split("\n")
    .filter((line) => /^\|.*\|$/.test(line) && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

/** The environment variables loadConfig reads: the keys of its schema in src/package/config.ts. */
function environmentVariables(): string[] {
  const file = path.join(ROOT, "src", "package", "config.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  let names: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === "schema" && node.initializer && ts.isCallExpression(node.initializer)) {
      const [shape] = node.initializer.arguments;
      if (shape && ts.isObjectLiteralExpression(shape)) names = shape.properties.map((p) => p.name!.getText());
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** The options a site passes: createSessions' and router()'s, from the package's types. */
function optionNames(): { createSessions: string[]; router: string[] } {
  const file = path.join(ROOT, "src", "package", "surface.ts");
  const program = ts.createProgram([file], { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  const membersOf = (name: string) => {
    const symbol = checker.getExportsOfModule(module).find((s) => s.name === name)!;
    return checker
      .getDeclaredTypeOfSymbol(symbol)
      .getProperties()
      .map((p) => p.name);
  };
  return { createSessions: membersOf("SessionsOptions"), router: membersOf("SessionPagesOptions") };
}

describe("the tarball: what a site installs", () => {
  test("when its README is read with only the tarball, then every relative link in it (and in any page it ships) resolves inside the tarball, anchors included", () => {
    const pages = files.filter((f) => f.endsWith(".md"));
    expect(pages).toContain("README.md");
    const broken: string[] = [];
    for (const page of pages) {
      const markdown = readFileSync(path.join(unpacked, page), "utf8");
      for (const link of linksOf(markdown)) {
        if (/^(https?:|mailto:)/.test(link)) continue;
        const [target, anchor] = link.split("#");
        const resolved = target === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), target));
        if (resolved.startsWith("..") || !(files.includes(resolved) || files.some((f) => f.startsWith(`${resolved.replace(/\/$/, "")}/`)))) {
          broken.push(`${page}: ${link} (no ${resolved} in the tarball)`);
          continue;
        }
        if (anchor && resolved.endsWith(".md") && !anchorsOf(readFileSync(path.join(unpacked, resolved), "utf8")).has(anchor)) {
          broken.push(`${page}: ${link} (no heading for #${anchor} in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  test("when its README is read with only the tarball, then it names no file of the repository that the tarball does not hold", () => {
    const outside = [...readme.matchAll(/(?<![\w/.-])((?:test|src|docs|bench|examples|\.ci)\/[\w./-]*|[\w-]+\.(?:md|test\.ts))(?![\w/-])/g)]
      .map((m) => m[1])
      .filter((name) => !files.includes(name));
    expect(outside).toEqual([]);
  });

  test("when a person looks for a setting, then the README's settings table has every environment variable and option the package reads, each with its default", () => {
    const variables = tableRows(readme, "### Environment variables");
    const options = tableRows(readme, "### Options");
    const named = (rows: string[][]) => new Map(rows.slice(1).flatMap((row) => [...row[0].matchAll(/`([^`]+)`/g)].map((m) => [m[1], row] as const)));
    const byVariable = named(variables);
    const byOption = named(options);
    for (const rows of [variables, options]) expect(rows[0].slice(0, 3).map((h) => h.toLowerCase())).toEqual([expect.any(String), "default", "what it does"]);
    const missing = [
      ...environmentVariables().filter((name) => !byVariable.has(name)),
      ...optionNames().createSessions.filter((name) => !byOption.has(name)),
      ...optionNames().router.filter((name) => !byOption.has(`router({ ${name} })`)),
    ];
    expect(missing).toEqual([]);
    for (const [name, row] of [...byVariable, ...byOption]) expect([name, row[1] !== "" && row[2] !== ""]).toEqual([name, true]);
  });

  test("when its types are checked under node10, node16 (CJS and ESM) and bundler, then arethetypeswrong finds no problem in any entry", () => {
    const attw = spawnSync(path.join(BIN, "attw"), [tarball, "--profile", "strict", "--format", "ascii"], { cwd: work, encoding: "utf8" });
    expect([attw.status, attw.stdout + attw.stderr]).toEqual([0, expect.stringContaining("No problems found")]);
  }, 60_000);

  test("when its manifest and files are linted, then publint (strict: warnings count) finds nothing", () => {
    const publint = spawnSync(path.join(BIN, "publint"), ["--strict", tarball], { cwd: work, encoding: "utf8" });
    expect([publint.status, publint.stdout + publint.stderr]).toEqual([0, expect.stringContaining("All good")]);
  }, 60_000);

  test("when a site imports the package, then what only some sites use is not loaded: nodemailer (SMTP_URL), maxmind (location data), the whole of date-fns", () => {
    const probe = spawnSync(
      process.execPath,
      ["-e", "require(process.argv[1]); console.log(JSON.stringify(Object.keys(require.cache)))", path.join(ROOT, "dist", "package", "index.js")],
      { encoding: "utf8" },
    );
    expect(probe.status).toBe(0);
    const loaded: string[] = JSON.parse(probe.stdout);
    const packages = loaded.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(f)).filter((m) => m !== null);
    expect(packages.filter(([, name]) => name === "nodemailer" || name === "maxmind" || name === "mmdb-lib").map(([, name]) => name)).toEqual([]);
    expect(packages.filter(([, name, rest]) => name === "date-fns" && /^(index|locale)\.c?js$/.test(rest)).map(([file]) => file)).toEqual([]);
  });
});
