import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { MODEL_JSON, WEIGHTS_BIN, fileHandler, weightsByteLength } from "./file-io";
import { appendToHistory, logValues } from "./logs";
import { processAlive } from "../core/process";
import { History } from "../core/history";

/** Everything needed to continue a run where it stopped. */
export interface CheckpointMeta {
  /** Identifies the run; a checkpoint folder belongs to one run. */
  runId: string;
  /** Epochs completed. */
  epoch: number;
  /** Metric name to one value per completed epoch. */
  history: History;
  seed: number;
  savedAt: string;
  /**
   * Whether the optimizer's state (`optimizer.json` + `optimizer.bin`) was saved with the model;
   * set by {@link saveCheckpoint}. Absent in checkpoints written before it was recorded.
   */
  optimizer?: boolean;
  /** Free-form settings of the run (experiment name, hyper-parameters), saved for reference. */
  settings?: Record<string, unknown>;
}

const META = "checkpoint.json";
const OPTIMIZER_JSON = "optimizer.json";
const OPTIMIZER_BIN = "optimizer.bin";

/**
 * The marker file of the pack's checkpoint folders. It holds
 * `{"package": "advanced-neural-models", "kind": "checkpoint", "format": 1}` and tells the pack
 * that the folder is its own, so that it may replace it; a folder without it is a user's and is
 * never removed or replaced (see {@link assertCheckpointTarget}). Folders written before the
 * marker existed are recognised by their `checkpoint.json` (with `runId`, `epoch`, `history`).
 */
export const CHECKPOINT_MARKER = ".advanced-neural-models";
/** The format version written into {@link CHECKPOINT_MARKER}. */
export const CHECKPOINT_FORMAT = 1;
const MARKER_CONTENT = { package: "advanced-neural-models", kind: "checkpoint" };

/** Every file a checkpoint folder (or the staging folder of a save) consists of. */
const CHECKPOINT_FILES = new Set([
  CHECKPOINT_MARKER,
  MODEL_JSON,
  WEIGHTS_BIN,
  OPTIMIZER_JSON,
  OPTIMIZER_BIN,
  META,
]);

/** What to do about a damaged checkpoint, appended to every error that names a damaged part. */
const DAMAGED =
  "the checkpoint is damaged: start over with --force, or restore the folder from a copy";

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * Replace what is at the checkpoint folder's path: a checkpoint of a different run, or files
   * and folders the pack did not write (default false: refuse).
   */
  overwrite?: boolean;
}

/** `fs.lstatSync`, or undefined when nothing is at `p` (a dangling link is something). */
function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Why `value` is not checkpoint metadata, or undefined when it is. */
function metaProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "not an object";
  const m = value as Partial<CheckpointMeta>;
  if (typeof m.runId !== "string") return "no runId";
  if (!Number.isInteger(m.epoch) || (m.epoch as number) < 0) return "no epoch count";
  const history = m.history as unknown;
  if (history === null || typeof history !== "object" || Array.isArray(history))
    return "no history";
  const series = Object.values(history as Record<string, unknown>);
  if (!series.every((v) => Array.isArray(v) && v.every((x) => typeof x === "number")))
    return "a history that is not lists of numbers";
  return undefined;
}

/** Whether `dir` is a folder of the pack's checkpoints: it has the marker, or legacy metadata. */
function isPackCheckpoint(dir: string): boolean {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_MARKER), "utf8"));
    if (marker?.package === MARKER_CONTENT.package && marker?.kind === MARKER_CONTENT.kind)
      return true;
  } catch {
    // no marker (or not ours): a checkpoint written before the marker has its metadata
  }
  try {
    return metaProblem(JSON.parse(fs.readFileSync(path.join(dir, META), "utf8"))) === undefined;
  } catch {
    return false;
  }
}

/** What is at `dir` when it is something the pack may not replace, or undefined. */
function foreignContent(dir: string): string | undefined {
  const stat = lstat(dir);
  if (!stat) return undefined;
  if (stat.isSymbolicLink()) return `is a symbolic link (to ${fs.readlinkSync(dir)})`;
  if (stat.isFile()) return `is a file (${stat.size} bytes)`;
  if (!stat.isDirectory()) return "is neither a file nor a folder";
  const entries = fs.readdirSync(dir);
  if (entries.length === 0 || isPackCheckpoint(dir)) return undefined;
  const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? ", …" : "");
  return `is a folder of ${entries.length} item(s) (${shown}) without the pack's checkpoint marker`;
}

/**
 * Refuses, before any work, a checkpoint folder path at which something the pack did not write
 * exists: a file (such as TensorFlow's own `checkpoint` index file), a link, or a folder that
 * is not one of the pack's checkpoints (no {@link CHECKPOINT_MARKER}, no legacy
 * `checkpoint.json`). Nothing there, an empty folder or a checkpoint of the pack pass. With
 * `options.overwrite` everything passes (the user asked for replacement).
 * @throws naming `dir`, saying what is there and how to proceed.
 */
export function assertCheckpointTarget(dir: string, options: { overwrite?: boolean } = {}): void {
  if (options.overwrite) return;
  const found = foreignContent(dir);
  if (found) {
    throw new Error(
      `${dir}: ${found}; the pack did not write it and will not replace it: move it away, ` +
        "choose another output folder (--out), or replace it with --force",
    );
  }
}

/** Metadata of a complete checkpoint folder (all its parts present), or undefined. */
function completeMeta(dir: string): CheckpointMeta | undefined {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, META), "utf8"));
    if (metaProblem(meta) !== undefined) return undefined;
    const parts = [MODEL_JSON, WEIGHTS_BIN];
    if (meta.optimizer) parts.push(OPTIMIZER_JSON, OPTIMIZER_BIN);
    return parts.every((f) => fs.existsSync(path.join(dir, f))) ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** A leftover of an interrupted {@link saveCheckpoint}: `dir.saving-PID` or `dir.old-PID`. */
interface Leftover {
  path: string;
  kind: "saving" | "old";
  pid: number;
}

/** Leftovers of saves of `dir` that the pack wrote, by processes that are no longer running. */
function deadLeftovers(dir: string): Leftover[] {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  return names.flatMap((name): Leftover[] => {
    const match = name.startsWith(base) && /^\.(saving|old)-(\d+)$/.exec(name.slice(base.length));
    if (!match || processAlive(Number(match[2]))) return [];
    const leftover = path.join(parent, name);
    const stat = lstat(leftover);
    if (!stat?.isDirectory()) return [];
    // a staging folder holds only checkpoint files; an old copy is a whole checkpoint
    const ours =
      match[1] === "saving"
        ? fs.readdirSync(leftover).every((f) => CHECKPOINT_FILES.has(f))
        : isPackCheckpoint(leftover);
    return ours
      ? [{ path: leftover, kind: match[1] as Leftover["kind"], pid: Number(match[2]) }]
      : [];
  });
}

/**
 * Repairs what an interrupted {@link saveCheckpoint} left next to `dir` (a save writes
 * `dir.saving-PID`, renames `dir` to `dir.old-PID`, renames the new copy to `dir`, then removes
 * the old one; a kill can stop it anywhere). When `dir` is missing, the newest complete copy
 * left by a process that is no longer running is renamed back to `dir` (the new copy when the
 * kill fell between the two renames); then the remaining leftovers of dead processes are removed.
 * Leftovers of running processes (`process.kill(pid, 0)` succeeds), and folders the pack did not
 * write, are never touched.
 * @returns one line per action taken, naming the folders, for the caller to print.
 */
export function recoverCheckpoint(dir: string): string[] {
  const actions: string[] = [];
  let leftovers = deadLeftovers(dir);
  if (!lstat(dir)) {
    const complete = leftovers
      .map((l) => ({ l, meta: completeMeta(l.path) }))
      .filter((c): c is { l: Leftover; meta: CheckpointMeta } => c.meta !== undefined)
      .sort(
        (a, b) =>
          b.meta.epoch - a.meta.epoch ||
          Number(b.l.kind === "saving") - Number(a.l.kind === "saving"),
      );
    if (complete.length) {
      const { l, meta } = complete[0];
      fs.renameSync(l.path, dir);
      actions.push(
        `${dir}: restored the checkpoint of run ${meta.runId} (epoch ${meta.epoch}) from ` +
          `${l.path}, left by process ${l.pid}, which stopped during a save`,
      );
      leftovers = leftovers.filter((x) => x !== l);
    }
  }
  for (const l of leftovers) {
    fs.rmSync(l.path, { recursive: true, force: true });
    actions.push(
      `${l.path}: removed the ${l.kind === "saving" ? "unfinished new" : "previous"} copy ` +
        `left by an interrupted save (process ${l.pid} is no longer running)`,
    );
  }
  return actions;
}

/**
 * Saves model (topology and weights, tfjs format), optimizer state (iterations, moments) and
 * `meta` to `dir`, marked with {@link CHECKPOINT_MARKER}. The new files are written next to the
 * old ones and swapped in only when complete, so an interrupted save never destroys the previous
 * checkpoint; what an earlier interrupted save left is repaired first ({@link recoverCheckpoint},
 * whose actions are printed as warnings). Unless `overwrite` is set, a folder holding a
 * checkpoint of **another** run, or anything the pack did not write, is never replaced.
 * @throws naming the folder and what it holds.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  meta: Omit<CheckpointMeta, "savedAt" | "optimizer">,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  for (const line of recoverCheckpoint(dir)) console.warn(`checkpoint: ${line}`);
  assertCheckpointTarget(dir, options);
  const existing = options.overwrite ? undefined : readMeta(dir);
  if (existing && existing.runId !== meta.runId) {
    throw new Error(
      `${dir} holds a checkpoint of another run ` +
        `(${existing.runId}, epoch ${existing.epoch}, saved ${existing.savedAt}); ` +
        "resume that run, choose another output folder, or allow overwriting explicitly",
    );
  }
  const staging = `${dir}.saving-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  await model.save(fileHandler(staging));
  fs.writeFileSync(
    path.join(staging, CHECKPOINT_MARKER),
    JSON.stringify({ ...MARKER_CONTENT, format: CHECKPOINT_FORMAT }) + "\n",
  );
  if (model.optimizer) {
    const weights = await model.optimizer.getWeights();
    const { data, specs } = await tf.io.encodeWeights(weights);
    fs.writeFileSync(
      path.join(staging, OPTIMIZER_JSON),
      JSON.stringify({
        className: model.optimizer.getClassName(),
        config: model.optimizer.getConfig(),
        specs,
      }),
    );
    fs.writeFileSync(path.join(staging, OPTIMIZER_BIN), Buffer.from(data));
  }
  // written last: a staging folder with its metadata is complete (recoverCheckpoint relies on it)
  fs.writeFileSync(
    path.join(staging, META),
    JSON.stringify(
      { ...meta, optimizer: model.optimizer !== undefined, savedAt: new Date().toISOString() },
      null,
      1,
    ),
  );
  const old = `${dir}.old-${process.pid}`;
  if (lstat(dir)) fs.renameSync(dir, old);
  fs.renameSync(staging, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * The checkpoint metadata in `dir`, or undefined when there is none.
 * @throws naming `checkpoint.json` when it is unreadable or not checkpoint metadata.
 */
export function readMeta(dir: string): CheckpointMeta | undefined {
  const file = path.join(dir, META);
  if (!fs.existsSync(file)) return undefined;
  let meta: unknown;
  try {
    meta = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(
      `${file}: unreadable checkpoint metadata (${(e as Error).message}); ${DAMAGED}`,
    );
  }
  const problem = metaProblem(meta);
  if (problem) throw new Error(`${file}: not checkpoint metadata (${problem}); ${DAMAGED}`);
  return meta as CheckpointMeta;
}

/** Options of {@link LoadedCheckpoint.restoreOptimizer}. */
export interface RestoreOptimizerOptions {
  /** Do not restore the saved state: continue with the optimizer's fresh state (default false). */
  reset?: boolean;
}

/**
 * A loaded checkpoint: the model (not compiled), the optimizer state to restore, and the metadata.
 */
export interface LoadedCheckpoint {
  model: tf.LayersModel;
  meta: CheckpointMeta;
  /**
   * Restores the saved optimizer state into `optimizer` (call after compiling the model with it).
   * With `reset` it restores nothing. A checkpoint saved without an optimizer leaves it fresh.
   * @throws naming the file when the saved state's files are missing (the checkpoint says it has
   * them, or, written before that was recorded, `optimizer.json` is missing), damaged, or of
   * another optimizer class.
   */
  restoreOptimizer(optimizer: tf.Optimizer, options?: RestoreOptimizerOptions): Promise<void>;
}

/** The saved optimizer state of `dir`, checked against its specs before it is decoded. */
function readOptimizerState(dir: string): {
  className: string;
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
} {
  const jsonFile = path.join(dir, OPTIMIZER_JSON);
  const binFile = path.join(dir, OPTIMIZER_BIN);
  for (const file of [jsonFile, binFile]) {
    if (!fs.existsSync(file)) {
      throw new Error(
        `${file}: missing, but the checkpoint was saved with the optimizer's state (its moments ` +
          "and step count); resume with --reset-optimizer to continue with fresh optimizer " +
          "state, or restore the folder from a copy",
      );
    }
  }
  const withHint = (what: string) =>
    `${what}; ${DAMAGED} (or resume with --reset-optimizer to continue with fresh optimizer state)`;
  let saved: { className?: unknown; specs?: unknown };
  try {
    saved = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
  } catch (e) {
    throw new Error(withHint(`${jsonFile}: unreadable optimizer state (${(e as Error).message})`));
  }
  if (
    saved === null ||
    typeof saved !== "object" ||
    typeof saved.className !== "string" ||
    !Array.isArray(saved.specs)
  ) {
    throw new Error(withHint(`${jsonFile}: not an optimizer state (needs className and specs)`));
  }
  const specs = saved.specs as tf.io.WeightsManifestEntry[];
  let expected: number;
  try {
    expected = weightsByteLength(specs);
  } catch (e) {
    throw new Error(withHint(`${jsonFile}: ${(e as Error).message}`));
  }
  const bin = fs.readFileSync(binFile);
  if (bin.byteLength !== expected) {
    throw new Error(
      withHint(
        `${binFile}: holds ${bin.byteLength} bytes, ${OPTIMIZER_JSON} describes ${expected}`,
      ),
    );
  }
  const data = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  return { className: saved.className, specs, data };
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}.
 * @throws naming the file when the folder holds no checkpoint or a part (`checkpoint.json`,
 * `model.json`, `weights.bin`) is damaged, and saying what to do.
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const meta = readMeta(dir);
  if (!meta) throw new Error(`${dir}: no checkpoint here (missing ${META})`);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileHandler(dir));
  } catch (e) {
    const message = (e as Error).message;
    const named = message.startsWith(path.normalize(dir))
      ? message
      : `${path.join(dir, MODEL_JSON)}: ${message}`;
    throw new Error(`${named}; ${DAMAGED}`);
  }
  return {
    model,
    meta,
    restoreOptimizer: async (optimizer, options = {}) => {
      if (options.reset || meta.optimizer === false) return;
      const saved = readOptimizerState(dir);
      if (saved.className !== optimizer.getClassName()) {
        throw new Error(
          `${path.join(dir, OPTIMIZER_JSON)}: saved state of a ${saved.className} optimizer ` +
            `cannot be loaded into a ${optimizer.getClassName()}; resume with the same ` +
            "optimizer, or with --reset-optimizer to start it fresh",
        );
      }
      const tensors = tf.io.decodeWeights(saved.data, saved.specs);
      await optimizer.setWeights(
        saved.specs.map((s) => ({ name: s.name, tensor: tensors[s.name] })),
      );
      tf.dispose(Object.values(tensors)); // the optimizer's variables keep their own references
    },
  };
}

/**
 * Keras's `ModelCheckpoint` for resumable runs: after every epoch saves the model, optimizer
 * state and the history so far (`previousHistory` from a resumed checkpoint, then this run's
 * epochs) with {@link saveCheckpoint}, so the same refusal to overwrite another run applies.
 */
export class ModelCheckpoint extends tf.Callback {
  /** The history saved with the latest checkpoint. */
  readonly history: History;

  constructor(
    private readonly dir: string,
    private readonly run: {
      runId: string;
      seed: number;
      settings?: Record<string, unknown>;
      previousHistory?: History;
    },
  ) {
    super();
    this.history = Object.fromEntries(
      Object.entries(run.previousHistory ?? {}).map(([k, v]) => [k, [...v]]),
    );
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    appendToHistory(this.history, await logValues(logs));
    await saveCheckpoint(this.dir, this.model as unknown as tf.LayersModel, {
      runId: this.run.runId,
      epoch: epoch + 1,
      history: this.history,
      seed: this.run.seed,
      settings: this.run.settings,
    });
  }
}
