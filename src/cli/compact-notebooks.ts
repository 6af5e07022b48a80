#!/usr/bin/env node
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";
import {
  COMPACT_BUDGET_BYTES,
  COMPACT_DIR,
  notebookPaths,
  sourceMismatch,
  writeCompactCopies,
} from "../notebook/compact";
import { readNotebook } from "../notebook/nbformat";
import { refuseRunMode } from "./no-run-mode";

const USAGE = `Usage: npm run compact-notebooks -- [--from DIR]

Writes the executed notebooks, made compact (each chart's PNG, Vega-Lite and text, without the
SVG copy), into ${COMPACT_DIR}/, the copies committed so that GitHub shows the figures; together
they must stay under ${COMPACT_BUDGET_BYTES / 2 ** 20} MiB.

  --from DIR   the executed notebooks, run in the default mode (default: results/notebooks).
               When they are missing, were run in another mode, or belong to an older version of
               a notebook, they are executed first (npm run notebooks, about 20 minutes on 2 cores).`;

function fail(message: string): never {
  console.error(`compact-notebooks: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** Why the executed copies in `from` cannot be used as they are, or undefined. */
function unusable(from: string): string | undefined {
  const notebooks = path.join(ROOT, "notebooks");
  for (const name of notebookPaths(notebooks)) {
    const file = path.join(from, name);
    if (!fs.existsSync(file)) return `${name} has no executed copy`;
    const executed = readNotebook(file);
    const stale = sourceMismatch(executed, readNotebook(path.join(notebooks, name)));
    if (stale) return `${name}'s copy is of an older version (${stale})`;
    if (!JSON.stringify(executed.cells).includes("Run mode: default"))
      return `${name}'s copy was not run in the default mode`;
  }
  return undefined;
}

function main(): void {
  refuseRunMode("compact-notebooks", "the committed copies are of the default mode");
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  let from = path.join(ROOT, "results", "notebooks");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--from") from = path.resolve(argv[++i] ?? fail("--from needs a value"));
    else fail(`unknown option ${argv[i]}`);
  }
  const why = unusable(from);
  if (why) {
    console.log(
      `compact-notebooks: ${why}: running the notebooks first into ${path.relative(ROOT, from)}/ ` +
        `(npm run notebooks, default mode, about 20 minutes on 2 cores)`,
    );
    const run = spawnSync(
      process.execPath,
      [path.join(__dirname, "run-notebooks.js"), "--out", from, path.join(ROOT, "notebooks")],
      { stdio: "inherit", env: { ...process.env, CH10_MODE: "default" } },
    );
    if (run.status !== 0) {
      console.error(`compact-notebooks: the notebooks did not all run (exit ${run.status})`);
      process.exit(1);
    }
  }
  try {
    const made = writeCompactCopies(
      path.join(ROOT, "notebooks"),
      from,
      path.join(ROOT, COMPACT_DIR),
    );
    const mib = (n: number) => (n / 2 ** 20).toFixed(2);
    for (const m of made)
      console.log(`${m.name.padEnd(60)} ${mib(m.executedBytes).padStart(6)} → ${mib(m.bytes)} MiB`);
    const total = made.reduce((s, m) => s + m.bytes, 0);
    console.log(
      `compact-notebooks: ${made.length} notebooks, ${mib(total)} MiB of ` +
        `${COMPACT_BUDGET_BYTES / 2 ** 20} MiB, in ${COMPACT_DIR}/`,
    );
  } catch (e) {
    console.error(`compact-notebooks: ${(e as Error).message}`);
    process.exit(1);
  }
}

main();
