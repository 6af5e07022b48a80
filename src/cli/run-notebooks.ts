#!/usr/bin/env node
import * as fs from "fs";
import * as path from "path";
import { MODE_ENV, RunMode, runMode } from "../core/mode";
import { onNpmScriptStopped } from "../notebook/kernel";
import { writeNotebook } from "../notebook/nbformat";
import { NotebookRunResult, runNotebook } from "../notebook/run";
import { decimalInRange } from "../core/numbers";
import { KERNEL_KINDS, KernelKind } from "../notebook/kernel";
import { DENO_VERSION, ensureDeno } from "../notebook/deno";

const USAGE = `Usage: npm run notebooks -- [options] [notebook.ipynb | folder ...]

Executes notebooks headless through the tslab kernel (or Deno's), each in a fresh kernel, in name order
(the chapter index 00-index last, so that its fidelity table includes this run's results),
and writes the executed copies (outputs and execution counts) to the output folder.

  folder/notebook   what to run (default: notebooks/, including subfolders)
  --out DIR         where executed copies go (default: results/notebooks)
  --in-place        write outputs back into the source notebooks instead
  --timeout SEC     longest time one cell may run (default: no limit)
  --kernel NAME     tslab (default: the notebook's own kernelspec) or deno (Deno ${DENO_VERSION}'s
                    kernel; fetched into .deno/ from the npm registry on first use)
  --help            this text

The run mode comes from ${MODE_ENV} (smoke | default | full; default: default).
Ctrl+C (SIGINT), SIGTERM or SIGHUP stops the run: the kernel is ended, the notebook it ran is
written with what it printed so far, and the exit status is 130, 143 or 129.`;

interface Args {
  targets: string[];
  out: string;
  inPlace: boolean;
  timeoutSec: number;
  kernel?: KernelKind;
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
    else if (a === "--kernel") {
      const kind = value();
      if (!(KERNEL_KINDS as readonly string[]).includes(kind))
        fail(`--kernel ${kind}: expected one of ${KERNEL_KINDS.join(", ")}`);
      args.kernel = kind as KernelKind;
    } else if (a === "--timeout") {
      const seconds = decimalInRange("--timeout", value(), 1, 604_800);
      args.timeoutSec = typeof seconds === "number" ? seconds : fail(seconds);
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

/** Refuses to start, in one line (for a setting that is wrong, not the command line's form). */
function refuse(message: string): never {
  console.error(`run-notebooks: ${message}`);
  process.exit(2);
}

/** The run mode, or a one-line refusal before any kernel starts. */
function checkedRunMode(): RunMode {
  try {
    return runMode();
  } catch (e) {
    refuse((e as Error).message);
  }
}

/** Makes the output folder, or refuses before any notebook runs when it cannot be written. */
function checkOutFolder(out: string): void {
  try {
    fs.mkdirSync(out, { recursive: true });
    if (!fs.statSync(out).isDirectory()) throw new Error("not a folder");
    fs.accessSync(out, fs.constants.W_OK);
  } catch (e) {
    const why = (e as Error).message;
    refuse(`--out ${out}: cannot write executed copies there (${why}); name a writable folder`);
  }
}

/** The signals that stop a run, and the exit status each gives (128 + the signal's number). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;
/** What stopped a run: the signal whose exit status it ends with, and what to call it. */
interface Stop {
  signal: StopSignal;
  why: string;
}
/** How long a stopped run may take to end its kernel before it exits regardless. */
const STOP_GRACE_MS = 15_000;

/**
 * Stops the run on SIGINT, SIGTERM or SIGHUP, or when npm, if it started this run, was stopped
 * (taken as a hang-up): aborts the returned signal (the running notebook ends its kernel and keeps
 * what it printed) and records which signal came. A second signal, or a stop that takes longer
 * than {@link STOP_GRACE_MS}, exits at once; the kernels are ended on exit in any case (see
 * notebook/kernel).
 */
function stopOnSignals(): { signal: AbortSignal; received: () => Stop | undefined } {
  const stop = new AbortController();
  let received: Stop | undefined;
  const onStop = (name: StopSignal, why: string) => {
    if (received) {
      console.error(`run-notebooks: ${why} again: exiting now`);
      process.exit(STOP_SIGNALS[name]);
    }
    received = { signal: name, why };
    stop.abort(new Error(`the run was stopped by ${why}`));
    setTimeout(() => {
      console.error(
        `run-notebooks: stopped by ${why}, but the kernel did not end within ` +
          `${STOP_GRACE_MS / 1000} s: exiting (it is killed)`,
      );
      process.exit(STOP_SIGNALS[name]);
    }, STOP_GRACE_MS).unref();
  };
  for (const name of Object.keys(STOP_SIGNALS) as StopSignal[])
    process.on(name, () => onStop(name, name));
  // a terminal's Ctrl+C reaches npm's shell too: its end then is not a second stop
  onNpmScriptStopped(
    () => received ?? onStop("SIGHUP", "a stop of npm (the shell it ran this in is gone)"),
  );
  return { signal: stop.signal, received: () => received };
}

/** A notebook to run and its name relative to the folder it was found in (or its file name). */
interface Target {
  file: string;
  name: string;
}

/** Every .ipynb under a folder (not in hidden folders such as .ipynb_checkpoints), by path. */
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
  const status = r.stopped
    ? `stopped${r.failure ? ` at cell ${r.failure.cellNumber}` : " after the last cell"}`
    : r.failure
      ? `FAILED at cell ${r.failure.cellNumber}`
      : "ok";
  const warn = r.stderr ? ` (stderr: ${r.stderr.trim().split("\n").length} lines)` : "";
  const cells = `${String(r.executedCells).padStart(3)}/${String(r.codeCells).padEnd(3)}`;
  const seconds = r.seconds.toFixed(1).padStart(7);
  console.log(`${name.padEnd(44)} ${cells} cells ${seconds} s  ${status}${warn}`);
}

function printFailure(r: NotebookRunResult): void {
  const f = r.failure!;
  const rule = "-".repeat(72);
  const source = f.source.replace(/^/gm, "  | ");
  const error = f.error.replace(/^/gm, "  ");
  console.error(
    `\n${rule}\nNotebook: ${r.file}\nCell ${f.cellNumber}:\n${source}\nError:\n${error}\n${rule}`,
  );
}

/** Reports a notebook that could not be run at all (not a notebook, the kernel did not start). */
function reportNotRun(file: string, name: string, error: string): void {
  console.log(`${name.padEnd(44)}   -/-   cells       - s  FAILED: ${error.split("\n")[0]}`);
  const rule = "-".repeat(72);
  console.error(`\n${rule}\nNotebook: ${file}\nError:\n${error.replace(/^/gm, "  ")}\n${rule}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const mode = checkedRunMode();
  const targets = args.targets.flatMap(findNotebooks);
  if (targets.length === 0) fail(`no .ipynb files found in ${args.targets.join(", ")}`);
  if (!args.inPlace) checkOutFolder(args.out);
  if (args.kernel === "deno") {
    try {
      ensureDeno((line) => console.log(`run-notebooks: ${line}`));
    } catch (e) {
      refuse(`--kernel deno: ${(e as Error).message}`);
    }
  }
  const stop = stopOnSignals();
  const kernel = args.kernel ? ` in the ${args.kernel} kernel` : "";
  console.log(`Running ${targets.length} notebook(s)${kernel}; ${mode.describe()}`);
  let failed = 0;
  let done = 0;
  for (const { file, name } of targets) {
    if (stop.signal.aborted) break;
    let result: NotebookRunResult;
    try {
      result = await runNotebook(file, {
        cellTimeoutMs: args.timeoutSec * 1000,
        signal: stop.signal,
        kernel: args.kernel,
      });
    } catch (e) {
      if (stop.signal.aborted) return stopped(stop.received()!, targets.length - done - 1, name);
      failed++;
      done++;
      reportNotRun(file, name, (e as Error).message);
      continue;
    }
    const dest = args.inPlace ? file : path.join(args.out, name);
    let written = true;
    try {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      writeNotebook(dest, result.notebook);
    } catch (e) {
      written = false;
      console.error(`run-notebooks: cannot write ${dest}: ${(e as Error).message}`);
    }
    report(result, name);
    done++;
    if (result.stopped)
      return stopped(stop.received()!, targets.length - done, name, written ? dest : undefined);
    if (result.failure || !written) failed++;
    if (result.failure) printFailure(result);
  }
  if (stop.signal.aborted) return stopped(stop.received()!, targets.length - done);
  const copies = args.inPlace ? "" : `; executed copies in ${args.out}/`;
  console.log(`${targets.length - failed} passed, ${failed} failed${copies}`);
  process.exit(failed ? 1 : 0);
}

/**
 * The one line a stopped run ends with, naming the notebook it left unfinished (if any) and where
 * its executed copy went; exits with the signal's status (its kernel is gone by now).
 */
function stopped(stop: Stop, notRun: number, unfinished?: string, copy?: string): never {
  const where = copy ? ` (what it printed so far is in ${copy})` : "";
  const what = unfinished ? `${unfinished} was left unfinished${where}, its kernel ended; ` : "";
  console.error(`run-notebooks: stopped by ${stop.why}; ${what}${notRun} more notebook(s) not run`);
  process.exit(STOP_SIGNALS[stop.signal]);
}

main().catch((e) => {
  console.error(`run-notebooks: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
