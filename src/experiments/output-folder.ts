import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { processAlive } from "../core/process";
import { inTslabKernel } from "../notebook/tslab";
import { RESULTS_ENV, resultsRoot } from "./record";

/** The lock file a run keeps in its output folder while it runs (see {@link lockOutputFolder}). */
export const LOCK_FILE = ".advanced-neural-models.lock";

const PACKAGE = "advanced-neural-models";

/** `fs.statSync` (links followed), or undefined when nothing is there or a parent is a file. */
function stat(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * Whether this process may create and replace entries in folder `dir`. As root this is always
 * true except on a read-only mount (EROFS): root passes every permission check, so a read-only
 * folder cannot be probed (nor tested) as root; as any other user, `chmod a-w` is seen here.
 */
function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `dir` cannot be a run's output folder, or undefined when it can: it must be a writable
 * folder whose `results.json`, if present, is a file, or not exist yet below a writable folder
 * (it is then created, with any missing parents). A path below a file (`somefile/sub`) fails.
 */
export function outputFolderProblem(dir: string): string | undefined {
  const target = path.resolve(dir);
  const found = stat(target);
  if (found) {
    if (!found.isDirectory()) return "is a file, not a folder";
    if (!writable(target)) return "is a folder this process may not write to";
    const record = stat(path.join(target, "results.json"));
    if (record && !record.isFile()) return "holds a results.json that is not a file";
    return undefined;
  }
  let parent = path.dirname(target);
  while (!stat(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  const above = stat(parent);
  if (!above) return `cannot be created: nothing at ${parent}`;
  if (!above.isDirectory()) return `cannot be created: ${parent} is a file, not a folder`;
  if (!writable(parent))
    return `cannot be created: ${parent} is a folder this process may not write to`;
  return undefined;
}

/**
 * Refuses, before any data is loaded or a model built, an output folder a run could not write
 * (see {@link outputFolderProblem}).
 * @throws naming `dir`, what is wrong with it and what to do.
 */
export function checkOutputFolder(dir: string): void {
  const problem = outputFolderProblem(dir);
  if (problem)
    throw new Error(
      `output folder ${dir} ${problem}: choose another folder (--out), or fix that path`,
    );
}

/**
 * Chart files (`*.svg`, `*.png`, the names a run writes its charts under) in `dir` that the pack
 * did not write: those not listed in the `charts` of the folder's results.json.
 */
export function foreignCharts(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  let listed: unknown[] = [];
  try {
    const record = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    if (Array.isArray(record?.charts)) listed = record.charts;
  } catch {
    // no record (or an unreadable one, which readRecord reports): no chart here is the pack's
  }
  return names.filter((n) => /\.(svg|png)$/.test(n) && !listed.includes(n.replace(/\.\w+$/, "")));
}

/**
 * Refuses, before any work, an output folder holding chart files the pack did not write: a run
 * writes its charts as `<name>.svg` and `<name>.png` beside results.json and would replace them.
 * @throws naming the folder and the files, and what to do.
 */
export function assertNoForeignCharts(dir: string): void {
  const found = foreignCharts(dir);
  if (found.length === 0) return;
  const shown = found.slice(0, 4).join(", ") + (found.length > 4 ? ", …" : "");
  throw new Error(
    `${dir} holds ${shown}, which the pack did not write; a run writes its charts there as ` +
      "SVG and PNG files and would replace them: move them away, choose another folder (--out), " +
      "or replace them (--force)",
  );
}

/**
 * The results folder ({@link resultsRoot}), checked: `$CH10_RESULTS` (or the default
 * `results/`) must be a folder or not exist yet; with `options.write`, also writable or
 * creatable. Notebooks that read records call it so that a file named by `CH10_RESULTS` is
 * reported instead of showing no records.
 * @throws naming the variable and the path, and what to do.
 */
export function checkResultsRoot(
  env: NodeJS.ProcessEnv = process.env,
  options: { write?: boolean } = {},
): string {
  const root = resultsRoot(env);
  const found = stat(root);
  const problem =
    found && !found.isDirectory()
      ? "is a file, not a folder"
      : options.write
        ? outputFolderProblem(root)
        : undefined;
  if (problem) {
    const set = env[RESULTS_ENV];
    const named = set
      ? `${RESULTS_ENV}=${set}${path.resolve(set) === root ? "" : ` (${root})`}`
      : `the results folder ${root}`;
    throw new Error(
      `${named} ${problem}: set ${RESULTS_ENV} to a folder` +
        (env[RESULTS_ENV] ? `, or unset it for the package's results/` : ""),
    );
  }
  return root;
}

/** What a lock file holds: which process runs in the folder, since when. */
interface LockHolder {
  package: string;
  pid: number;
  host: string;
  command: string;
  since: string;
}

/** A lock held by this process (see {@link lockOutputFolder}). */
export interface OutputLock {
  /** The lock file. */
  readonly file: string;
  /** Lines for the caller to print: a stale lock of a dead process that was taken over. */
  readonly notes: string[];
  /** Gives the lock up (once per {@link lockOutputFolder} call); the last release removes it. */
  release(): void;
}

/** Locks this process holds, by lock file: how many times taken, the folder it created. */
const held = new Map<string, { count: number; created?: string }>();

/** The holder written in `file`, undefined when it vanished. @throws when it is not our lock. */
function readLock(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let holder: Partial<LockHolder> | undefined;
  try {
    holder = JSON.parse(text);
  } catch {
    holder = undefined;
  }
  if (holder?.package !== PACKAGE || !Number.isInteger(holder.pid))
    throw new Error(
      `${file}: not a lock file of this pack; remove it if nothing else uses ${path.dirname(file)}`,
    );
  return holder as LockHolder;
}

/** Removes `file` when it is this process's lock. */
function removeOwn(file: string): void {
  try {
    if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  } catch {
    // replaced by something that is not ours: leave it
  }
}

function releaseAll(): void {
  for (const file of held.keys()) removeOwn(file);
  held.clear();
}

let cleanupInstalled = false;

/**
 * Removes the held locks when the process exits, and when SIGTERM, SIGHUP or (outside a tslab
 * kernel, where SIGINT is the stop button and training stops by itself) SIGINT would end it:
 * when no one else listens, the locks are removed and the signal is raised again, so the
 * process still ends as the signal says.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", releaseAll);
  const signals: NodeJS.Signals[] = inTslabKernel()
    ? ["SIGTERM", "SIGHUP"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of signals) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      releaseAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Removes `folder` and its parents up to `created` (the first folder a lock created) if empty. */
function removeCreated(folder: string, created: string): void {
  for (let dir = folder; ; dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === created || path.dirname(dir) === dir) return;
  }
}

/**
 * Takes the lock of output folder `dir` (creating the folder): a second run on the same folder,
 * in another process, is refused at its start, naming the running one. A lock whose process is
 * no longer running (killed, crashed) is taken over, with a line in `notes` saying so. The same
 * process may take a lock it holds again (e.g. the CLI, then the runner); the last
 * {@link OutputLock.release} removes it, and it is removed on exit and on SIGINT/SIGTERM/SIGHUP.
 * A folder the lock created and that is still empty at release is removed again.
 * @param options.command what to name this run by in another run's refusal (default: argv).
 * @throws naming the folder and the running process, or when `dir` cannot be an output folder.
 */
export function lockOutputFolder(dir: string, options: { command?: string } = {}): OutputLock {
  const folder = path.resolve(dir);
  const file = path.join(folder, LOCK_FILE);
  const notes: string[] = [];
  const handle = (): OutputLock => {
    let released = false;
    return {
      file,
      notes,
      release: () => {
        const entry = held.get(file);
        if (released || !entry) return;
        released = true;
        if (--entry.count > 0) return;
        held.delete(file);
        removeOwn(file);
        if (entry.created) removeCreated(folder, entry.created);
      },
    };
  };
  const mine = held.get(file);
  if (mine) {
    mine.count++;
    return handle();
  }
  checkOutputFolder(dir);
  const created = fs.mkdirSync(folder, { recursive: true });
  const me: LockHolder = {
    package: PACKAGE,
    pid: process.pid,
    host: os.hostname(),
    command: options.command ?? process.argv.slice(1).join(" "),
    since: new Date().toISOString(),
  };
  // written whole, then linked into place: a lock file is never seen half-written
  const draft = `${file}.${process.pid}.draft`;
  fs.writeFileSync(draft, JSON.stringify(me) + "\n");
  let taken = false;
  try {
    for (let attempt = 0; ; attempt++) {
      if (attempt === 10)
        throw new Error(`${file}: could not take the lock (other runs keep taking it)`);
      try {
        fs.linkSync(draft, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const holder = readLock(file);
      if (!holder) continue;
      const elsewhere = holder.host !== me.host;
      if (elsewhere || processAlive(holder.pid)) {
        throw new Error(
          `output folder ${dir} is in use by process ${holder.pid}` +
            (elsewhere ? ` on ${holder.host}` : "") +
            ` (${holder.command}), running since ${holder.since}: wait for it to end or stop it, ` +
            `or choose another folder (--out); if no such run exists, remove ${file}`,
        );
      }
      // stale: move it aside, then make sure it is the one judged stale before dropping it
      const aside = `${file}.${process.pid}.stale`;
      try {
        fs.renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      const moved = readLock(aside);
      if (moved && JSON.stringify(moved) !== JSON.stringify(holder)) {
        try {
          fs.linkSync(aside, file);
        } catch {
          // yet another run took it meanwhile; the loop reads that one
        }
        fs.rmSync(aside, { force: true });
        continue;
      }
      fs.rmSync(aside, { force: true });
      notes.push(
        `output folder ${dir}: took over the lock of process ${holder.pid} (${holder.command}, ` +
          `since ${holder.since}), which is no longer running`,
      );
    }
    taken = true;
  } finally {
    fs.rmSync(draft, { force: true });
    if (!taken && created) removeCreated(folder, created);
  }
  held.set(file, { count: 1, created });
  installCleanup();
  return handle();
}
