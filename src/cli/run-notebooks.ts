#!/usr/bin/env node
import * as fs from "fs";
import * as path from "path";
import { MODE_ENV, runMode } from "../core/mode";
import { writeNotebook } from "../notebook/nbformat";
import { NotebookRunResult, runNotebook } from "../notebook/run";

const USAGE = `Usage: npm run notebooks -- [options] [notebook.ipynb | folder ...]

Executes notebooks headless through the tslab kernel, each in a fresh kernel, in name order
(the chapter index 00-index last, so that its fidelity table includes this run's results),
and writes the executed copies (outputs and execution counts) to the output folder.

  folder/notebook   what to run (default: notebooks/, including subfolders)
  --out DIR         where executed copies go (default: results/notebooks)
  --in-place        write outputs back into the source notebooks instead
  --timeout SEC     longest time one cell may run (default: no limit)
  --help            this text

The run mode comes from ${MODE_ENV} (smoke | default | full; default: default).`;

interface Args {
  targets: string[];
  out: string;
  inPlace: boolean;
  timeoutSec: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { targets: [], out: "results/notebooks", inPlace: false, timeoutSec: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "--out") args.out = value();
    else if (a === "--in-place") args.inPlace = true;
    else if (a === "--timeout") {
      args.timeoutSec = Number(value());
      if (!(args.timeoutSec > 0)) fail(`--timeout needs a positive number of seconds`);
    } else if (a.startsWith("-")) fail(`unknown option ${a}`);
    else args.targets.push(a);
  }
  if (args.targets.length === 0) args.targets.push("notebooks");
  return args;
}

function fail(message: string): never {
  console.error(`run-notebooks: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** A notebook to run and its name relative to the folder it was found in (or its file name). */
interface Target {
  file: string;
  name: string;
}

/** Every .ipynb under a folder (skipping hidden folders such as .ipynb_checkpoints), sorted by path. */
function findNotebooks(target: string): Target[] {
  if (!fs.existsSync(target)) fail(`${target} does not exist`);
  if (fs.statSync(target).isFile()) {
    if (!target.endsWith(".ipynb")) fail(`${target} is not an .ipynb file`);
    return [{ file: target, name: path.basename(target) }];
  }
  const found: Target[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && !e.name.startsWith(".")) walk(p);
      else if (e.isFile() && e.name.endsWith(".ipynb"))
        found.push({ file: p, name: path.relative(target, p) });
    }
  };
  walk(target);
  // the chapter index reads the results the other notebooks write: run it last
  const isIndex = (t: Target) => path.basename(t.file).startsWith("00-index");
  return found.sort(
    (a, b) => Number(isIndex(a)) - Number(isIndex(b)) || a.name.localeCompare(b.name),
  );
}

function report(r: NotebookRunResult, name: string): void {
  const status = r.failure ? `FAILED at cell ${r.failure.cellNumber}` : "ok";
  const warn = r.stderr ? ` (stderr: ${r.stderr.trim().split("\n").length} lines)` : "";
  console.log(
    `${name.padEnd(44)} ${String(r.executedCells).padStart(3)}/${String(r.codeCells).padEnd(3)} cells ${r.seconds.toFixed(1).padStart(7)} s  ${status}${warn}`,
  );
}

function printFailure(r: NotebookRunResult): void {
  const f = r.failure!;
  const rule = "-".repeat(72);
  console.error(
    `\n${rule}\nNotebook: ${r.file}\nCell ${f.cellNumber}:\n${f.source.replace(/^/gm, "  | ")}\nError:\n${f.error.replace(/^/gm, "  ")}\n${rule}`,
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const mode = runMode();
  const targets = args.targets.flatMap(findNotebooks);
  if (targets.length === 0) fail(`no .ipynb files found in ${args.targets.join(", ")}`);
  console.log(`Running ${targets.length} notebook(s); ${mode.describe()}`);
  let failed = 0;
  for (const { file, name } of targets) {
    const result = await runNotebook(file, { cellTimeoutMs: args.timeoutSec * 1000 });
    const dest = args.inPlace ? file : path.join(args.out, name);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    writeNotebook(dest, result.notebook);
    report(result, name);
    if (result.failure) {
      failed++;
      printFailure(result);
    }
  }
  console.log(
    `${targets.length - failed} passed, ${failed} failed${args.inPlace ? "" : `; executed copies in ${args.out}/`}`,
  );
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`run-notebooks: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
