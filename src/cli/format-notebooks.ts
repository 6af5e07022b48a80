#!/usr/bin/env node
/**
 * Formats the TypeScript code cells of the notebooks with Prettier (the project's configuration,
 * `.prettierrc.json`), so that notebook code follows the same layout as `src/` and no code line is
 * over the print width. Markdown cells, outputs and metadata are left as they are.
 *
 * `npm run format` writes the changes; `npm run format:check` (the same with `--check`) only lists
 * the notebooks that would change and exits 1 when there are any.
 */
import * as fs from "fs";
import * as path from "path";
import { Notebook, cellSource, readNotebook, toLines, writeNotebook } from "../notebook/nbformat";

const USAGE = `Usage: node dist/cli/format-notebooks.js [--check] [notebook-or-folder ...]

Formats the code cells of the notebooks (default: notebooks/ and notebooks/solutions/) with
Prettier and the project's .prettierrc.json. --check writes nothing and exits 1 when a notebook
would change.`;

/** The prettier module, loaded lazily: it is a development dependency. */
type Prettier = typeof import("prettier");

function notebooksIn(target: string): string[] {
  if (!fs.existsSync(target)) throw new Error(`${target}: no such notebook or folder`);
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs
    .readdirSync(target, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? notebooksIn(path.join(target, e.name))
        : e.name.endsWith(".ipynb")
          ? [path.join(target, e.name)]
          : [],
    )
    .sort();
}

/** Formats one code cell's source; the last newline Prettier adds is dropped (cells have none). */
async function formatCell(
  prettier: Prettier,
  source: string,
  options: import("prettier").Options,
  where: string,
): Promise<string> {
  try {
    const out = await prettier.format(source, { ...options, parser: "typescript" });
    return out.replace(/\n$/, "");
  } catch (e) {
    throw new Error(`${where}: Prettier cannot parse this cell (${(e as Error).message})`);
  }
}

/** Formats every code cell of `nb`; returns whether anything changed. */
async function formatNotebook(
  prettier: Prettier,
  file: string,
  nb: Notebook,
  options: import("prettier").Options,
): Promise<boolean> {
  let changed = false;
  for (const [i, cell] of nb.cells.entries()) {
    if (cell.cell_type !== "code") continue;
    const before = cellSource(cell);
    if (before.trim() === "") continue;
    const after = await formatCell(prettier, before, options, `${file}, cell ${i + 1}`);
    if (after !== before) {
      cell.source = toLines(after);
      changed = true;
    }
  }
  return changed;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a.startsWith("-") && a !== "--check");
  if (unknown.length) throw new Error(`unknown option ${unknown.join(", ")}\n\n${USAGE}`);
  const root = path.join(__dirname, "..", "..");
  const targets = argv.filter((a) => !a.startsWith("-"));
  const files = (targets.length ? targets : [path.join(root, "notebooks")]).flatMap(notebooksIn);
  const prettier = (await import("prettier")) as Prettier;
  const options = (await prettier.resolveConfig(path.join(root, "src", "index.ts"))) ?? {};
  const changed: string[] = [];
  for (const file of files) {
    const nb = readNotebook(file);
    if (!(await formatNotebook(prettier, file, nb, options))) continue;
    changed.push(path.relative(process.cwd(), file));
    if (!check) writeNotebook(file, nb);
  }
  if (check && changed.length) {
    console.error(`not formatted (run npm run format): ${changed.join(", ")}`);
    process.exit(1);
  }
  const verb = check ? "checked" : "formatted";
  console.log(`${files.length} notebook(s) ${verb}${check ? "" : `, ${changed.length} changed`}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`format-notebooks: ${(e as Error).message}`);
    process.exit(1);
  });
}
