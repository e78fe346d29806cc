import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

// A newcomer reads the package one function at a time: none longer than about a screen and a half.

const PACKAGE = path.join(__dirname, "..", "src", "package");
const MAX_LINES = 120;

/** A function's name as a reader finds it: its own, or the variable, property or method it is given to. */
function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText();
  return "(anonymous)";
}

/** Every function, method and arrow function of the package, with its length in lines (first to last, both counted). */
function functionLengths(): { where: string; lines: number }[] {
  const found: { where: string; lines: number }[] = [];
  const files = readdirSync(PACKAGE, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(path.join(PACKAGE, file), "utf8"), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        found.push({ where: `${file.split(path.sep).join("/")}: ${nameOf(node as ts.FunctionLikeDeclaration)}`, lines: last - first + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe("the package's code, read by a newcomer", () => {
  test(`when its functions are measured, then none is longer than ${MAX_LINES} lines`, () => {
    const long = functionLengths()
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ where, lines }) => `${where} (${lines} lines)`);
    expect(long).toEqual([]);
  });
});
