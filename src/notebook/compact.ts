import * as fs from "fs";
import * as path from "path";
import { Notebook, cellSource, readNotebook, writeNotebook } from "./nbformat";

/**
 * The executed notebooks made small enough to commit, so that GitHub and nbviewer show their
 * figures: each chart keeps its PNG (what static viewers draw), its Vega-Lite (what JupyterLab
 * draws) and its text, and drops the SVG copy, which repeats the PNG for every grid of heat maps.
 */

/** Where the compact executed copies are committed. */
export const COMPACT_DIR = path.join("reference", "notebooks");
/** Their size budget, all together. */
export const COMPACT_BUDGET_BYTES = 8 * 1024 * 1024;

/** A copy of `nb` without the SVG of any output that has a PNG too. */
export function compactNotebook(nb: Notebook): Notebook {
  const copy = JSON.parse(JSON.stringify(nb)) as Notebook;
  for (const cell of copy.cells)
    for (const o of cell.outputs ?? [])
      if ("data" in o && o.data["image/png"] !== undefined) delete o.data["image/svg+xml"];
  return copy;
}

/**
 * Why an executed copy does not belong to the source notebook (a cell's kind or source differs,
 * cells added or removed), or undefined when every cell matches.
 */
export function sourceMismatch(executed: Notebook, source: Notebook): string | undefined {
  if (executed.cells.length !== source.cells.length)
    return `${executed.cells.length} cells, the notebook has ${source.cells.length}`;
  for (let k = 0; k < source.cells.length; k++) {
    const a = executed.cells[k],
      b = source.cells[k];
    if (a.cell_type !== b.cell_type || cellSource(a) !== cellSource(b))
      return `cell ${k + 1} (${b.cell_type}) differs from the notebook's`;
  }
  return undefined;
}

/** Every notebook under `dir` (solutions included), as paths relative to it. */
export function notebookPaths(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !e.name.startsWith(".")) walk(p);
      else if (e.name.endsWith(".ipynb")) found.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return found.sort();
}

/** One notebook's compact copy, as written. */
export interface CompactResult {
  name: string;
  bytes: number;
  /** Bytes of the executed copy it was made from. */
  executedBytes: number;
}

/**
 * Writes the compact copy of each executed notebook of `from` that belongs to `notebooks` into
 * `out` (replacing the copies there), after checking all of them first.
 * @throws naming the notebook when an executed copy is missing, belongs to an older version of
 * its notebook, failed a cell, or the copies together exceed {@link COMPACT_BUDGET_BYTES}.
 */
export function writeCompactCopies(notebooks: string, from: string, out: string): CompactResult[] {
  const names = notebookPaths(notebooks);
  const made = names.map((name) => {
    const file = path.join(from, name);
    if (!fs.existsSync(file)) throw new Error(`${file}: no executed copy of ${name}`);
    const executed = readNotebook(file);
    const stale = sourceMismatch(executed, readNotebook(path.join(notebooks, name)));
    if (stale) throw new Error(`${file} is not the executed ${name}: ${stale}`);
    const failed = executed.cells.findIndex(
      (c) =>
        c.cell_type === "code" &&
        (c.execution_count == null || (c.outputs ?? []).some((o) => o.output_type === "error")),
    );
    if (failed >= 0) throw new Error(`${file}: cell ${failed + 1} did not run or failed`);
    const compact = compactNotebook(executed);
    const text = JSON.stringify(compact, null, 1) + "\n";
    return { name, compact, bytes: Buffer.byteLength(text), executedBytes: fs.statSync(file).size };
  });
  const total = made.reduce((s, m) => s + m.bytes, 0);
  if (total > COMPACT_BUDGET_BYTES)
    throw new Error(
      `the compact copies come to ${(total / 2 ** 20).toFixed(1)} MiB, over the budget of ` +
        `${COMPACT_BUDGET_BYTES / 2 ** 20} MiB: ` +
        made.map((m) => `${m.name} ${(m.bytes / 2 ** 20).toFixed(2)}`).join(", "),
    );
  for (const m of made) {
    const dest = path.join(out, m.name);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    writeNotebook(dest, m.compact);
  }
  return made.map(({ name, bytes, executedBytes }) => ({ name, bytes, executedBytes }));
}
