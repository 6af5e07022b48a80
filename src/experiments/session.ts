import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { seedGlobalRandom } from "../core/random";
import {
  CheckpointMeta,
  ModelCheckpoint,
  assertCheckpointTarget,
  loadCheckpoint,
  readMeta,
  recoverCheckpoint,
} from "../train/checkpoint";
import { assertNoForeignCharts, checkOutputFolder, lockOutputFolder } from "./output-folder";
import { readRecord, resultsRoot } from "./record";
import { appendToHistory, logValues } from "../train/logs";
import { TrainingInterrupted } from "../notebook/interrupt";
import { History } from "../core/history";
import type { BackendInfo } from "../backend/init";
import { layerDifferences } from "./architecture";

/** How an experiment run is stored; shared by the notebooks and `npm run experiment`. */
export interface RunOptions {
  /**
   * The backend the run trains on: what `initBackend()` returned (default: the current one). Its
   * line goes into results.json and its name to `train`.
   */
  backend?: BackendInfo;
  /** Folder for results.json, the charts and the checkpoint; none: nothing is written. */
  out?: string;
  /** Save a checkpoint in `out/checkpoint` after every epoch (default false). */
  checkpoints?: boolean;
  /** Continue the run whose checkpoint is in `out/checkpoint`. */
  resume?: boolean;
  /**
   * Replace results or a checkpoint of another run in `out`, and a `checkpoint` file or folder
   * the pack did not write (default false: refuse).
   */
  force?: boolean;
  /**
   * When resuming, continue with a fresh optimizer state (moments and step count) instead of the
   * saved one; needed when the checkpoint's optimizer files are missing (default false: refuse).
   */
  resetOptimizer?: boolean;
  /** Live view / progress line (default true). */
  progress?: boolean;
  /** Recorded in results.json: the notebook run mode, or `cli` (`cli-smoke`: CH10_MODE chose). */
  mode?: string;
  /** Write the charts (SVG and PNG) beside results.json (default true). */
  charts?: boolean;
}

/** A model ready to train, possibly restored from a checkpoint. */
export interface PreparedRun {
  model: tf.LayersModel;
  /** Epochs already done (0 unless resumed). */
  initialEpoch: number;
  /** History of the epochs already done. */
  previousHistory: History;
  /** Callbacks to pass to training (the checkpoint saver when enabled). */
  callbacks: tf.Callback[];
  /** Call when training is over: restores `Math.random`. */
  finish(): void;
  /**
   * Runs the training call; when an interrupt stops it, the error says that {@link lastRun}
   * holds the model and the finished epochs' history.
   */
  training<T>(fit: () => Promise<T>): Promise<T>;
}

/** The model and history of the latest experiment run, finished or stopped. */
export interface LastRun {
  experiment: string;
  settings: Record<string, unknown>;
  /** The model being trained: after an interrupt, with the weights of the last finished batch. */
  model: tf.LayersModel;
  /** Metrics of every finished epoch (resumed ones included). */
  history: History;
  /** Whether training ran to the last epoch. */
  finished: boolean;
}

let latest: LastRun | undefined;

/**
 * The latest experiment run of this process (e.g. of `runMnistExperiment` in a notebook), also
 * when it was stopped by an interrupt before it could return; undefined before any.
 */
export function lastRun(): LastRun | undefined {
  return latest;
}

/** Keeps {@link LastRun.history} up to date after every finished epoch. */
class RecordEpochs extends tf.Callback {
  constructor(private readonly run: LastRun) {
    super();
  }

  override async onEpochEnd(_epoch: number, logs?: tf.Logs): Promise<void> {
    appendToHistory(this.run.history, await logValues(logs));
  }

  override async onTrainEnd(): Promise<void> {
    this.run.finished = !(this.model as unknown as tf.LayersModel).stopTraining;
  }
}

/**
 * Lets pending events in after every batch. Training on one thread never returns to the event
 * loop on its own, so a signal that ends the process (SIGINT, SIGTERM, SIGHUP; see
 * {@link lockOutputFolder}) would otherwise be handled only when training is over: with this,
 * it is handled within a batch, and the output folder's lock is removed before the process ends.
 */
class LetSignalsIn extends tf.Callback {
  override async onBatchEnd(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The checkpoint folder of a run's output folder. */
export const checkpointDir = (out: string) => path.join(out, "checkpoint");

/**
 * The checks of {@link prepareRun} that need neither data nor a model, for a caller to run before
 * it loads data (the CLI does): `out` must be a folder the run can write (or create); what an
 * interrupted checkpoint save left is repaired (its lines printed); a `checkpoint` in `out` that
 * the pack did not write is refused unless `force`; and, unless resuming or `force`, a folder
 * that holds another run's results or checkpoint is refused. Idempotent.
 * @returns the checkpoint's metadata when there is one (undefined with `force` and no resume).
 * @throws naming the path, what is wrong and which option proceeds.
 */
export function preflightRun(run: RunOptions, name = "experiment"): CheckpointMeta | undefined {
  const out = run.out;
  if (run.resume && !out)
    throw new Error(`${name}: --resume needs the output folder of the run to continue`);
  if (!out) return undefined;
  checkOutputFolder(out);
  const ckpt = checkpointDir(out);
  for (const line of recoverCheckpoint(ckpt)) console.log(line);
  assertCheckpointTarget(ckpt, { overwrite: run.force });
  if (!run.force) assertNoForeignCharts(out);
  if (run.force && !run.resume) return undefined;
  const meta = readMeta(ckpt);
  if (!run.resume) {
    const record = readRecord(out);
    if (meta || record) {
      const what = meta
        ? `a checkpoint of run ${meta.runId} (epoch ${meta.epoch})`
        : `results of a ${record!.experiment} run from ${record!.date}`;
      throw new Error(
        `${out} already holds ${what}; resume it (--resume), choose another folder (--out), ` +
          "or replace it (--force)",
      );
    }
  }
  return meta;
}

/** Whether something the pack did not write is at checkpoint path `ckpt`. */
function foreignCheckpoint(ckpt: string): boolean {
  try {
    assertCheckpointTarget(ckpt);
    return false;
  } catch {
    return true;
  }
}

/**
 * Builds and compiles the model of experiment `name`, or restores it from `out/checkpoint` when
 * resuming (weights, optimizer state unless `resetOptimizer`, epoch, history), and seeds
 * `Math.random` with `seed` (plus the epoch when resuming). Before any work it runs
 * {@link preflightRun} and takes the output folder's lock ({@link lockOutputFolder}: a second
 * run on the same folder is refused); `finish()` gives the lock back (so does an error here).
 * Refuses to resume a run with different settings (a setting the checkpoint predates counts as
 * `defaults`' value). A model that is already compiled (the
 * caller's) keeps its optimizer; `given`, the caller's network, is what a resumed run continues:
 * the checkpoint's weights are loaded into it when its layers are configured alike.
 */
export async function prepareRun(
  name: string,
  settings: Record<string, unknown> & { epochs: number; seed: number },
  run: RunOptions,
  build: () => tf.LayersModel,
  compile: (model: tf.LayersModel) => void,
  given?: tf.LayersModel,
  defaults: Record<string, unknown> = {},
): Promise<PreparedRun> {
  const out = run.out;
  const lock = out ? lockOutputFolder(out) : undefined;
  for (const line of lock?.notes ?? []) console.log(line);
  let meta: CheckpointMeta | undefined;
  try {
    meta = preflightRun(run, name);
  } catch (e) {
    lock?.release();
    throw e;
  }
  const ckpt = out ? checkpointDir(out) : undefined;
  const restoreRandom = seedGlobalRandom(settings.seed + (run.resume && meta ? meta.epoch : 0));
  const restore = () => {
    restoreRandom();
    lock?.release();
  };
  let start: {
    model: tf.LayersModel;
    initialEpoch: number;
    previousHistory: History;
    runId: string;
  };
  try {
    start = run.resume
      ? await resumeFrom(ckpt!, meta, name, settings, compile, run, given, defaults)
      : {
          model: given ? withSeededWeights(given) : build(),
          initialEpoch: 0,
          previousHistory: {},
          runId: `${name}-${new Date().toISOString()}`,
        };
    if (!run.resume && !start.model.optimizer) compile(start.model);
  } catch (e) {
    restore();
    throw e;
  }
  if (run.force && !run.resume && ckpt) {
    if (foreignCheckpoint(ckpt))
      console.log(`${ckpt}: replaced as --force asked, although the pack did not write it`);
    fs.rmSync(ckpt, { recursive: true, force: true });
  }
  const { model, initialEpoch, previousHistory, runId } = start;
  latest = {
    experiment: name,
    settings,
    model,
    history: mergeHistory(previousHistory, {}),
    finished: false,
  };
  const callbacks: tf.Callback[] = [new RecordEpochs(latest)];
  if (lock) callbacks.push(new LetSignalsIn());
  if (ckpt && (run.checkpoints || run.resume))
    callbacks.push(
      new ModelCheckpoint(ckpt, {
        runId,
        seed: settings.seed,
        settings: { experiment: name, ...settings },
        previousHistory,
      }),
    );
  const training = async <T>(fit: () => Promise<T>): Promise<T> => {
    try {
      return await fit();
    } catch (e) {
      if (e instanceof TrainingInterrupted)
        throw new TrainingInterrupted(
          e.position,
          ` (lastRun() holds it and the ${name} history of the finished epochs)`,
        );
      throw e;
    }
  };
  return { model, initialEpoch, previousHistory, callbacks, finish: restore, training };
}

async function resumeFrom(
  ckpt: string,
  meta: CheckpointMeta | undefined,
  name: string,
  settings: Record<string, unknown> & { epochs: number },
  compile: (model: tf.LayersModel) => void,
  run: RunOptions,
  given?: tf.LayersModel,
  defaults: Record<string, unknown> = {},
) {
  if (!meta)
    throw new Error(`${ckpt}: no checkpoint to resume (run without --resume to start one)`);
  // a setting added after the checkpoint was made ran at its default (the book's value)
  const saved: Record<string, unknown> = { ...meta.settings };
  for (const [key, value] of Object.entries(defaults)) if (!(key in saved)) saved[key] = value;
  const wanted: Record<string, unknown> = { experiment: name, ...settings };
  const differing = Object.keys({ ...saved, ...wanted }).filter(
    (k) => k !== "epochs" && JSON.stringify(saved[k]) !== JSON.stringify(wanted[k]),
  );
  if (differing.length)
    throw new Error(
      `${ckpt}: the checkpoint was made with other settings ` +
        `(${differing.map((k) => `${k}: ${JSON.stringify(saved[k])}`).join(", ")}); ` +
        "resume with the same ones",
    );
  // a run killed after its last checkpoint but before its results were written is finished here
  const written = readRecord(path.dirname(ckpt))?.metrics.epochs === meta.epoch;
  if (meta.epoch > settings.epochs || (meta.epoch === settings.epochs && written))
    throw new Error(
      `${ckpt}: the run already has ${meta.epoch} epochs; ask for more than that with --epochs`,
    );
  if (meta.epoch === settings.epochs)
    console.log(
      `${ckpt}: all ${meta.epoch} epochs are done but the results were not written (the run ` +
        "stopped first): writing them now",
    );
  const loaded = await loadCheckpoint(ckpt);
  const model = given ? intoGiven(ckpt, loaded.model, given) : loaded.model;
  if (!model.optimizer) compile(model);
  await loaded.restoreOptimizer(model.optimizer, { reset: run.resetOptimizer });
  if (run.resetOptimizer)
    console.log(
      `${ckpt}: resuming with a fresh optimizer state (--reset-optimizer): its moments and ` +
        "step count start over",
    );
  return {
    model,
    initialEpoch: meta.epoch,
    previousHistory: meta.history,
    runId: meta.runId,
  };
}

/**
 * Gives `model` the initial weights its layers draw now, from the run's seeded `Math.random`: a
 * copy is built from its configuration (drawing them as a library-built network would) and its
 * weights are copied into `model`, which keeps its optimizer. A network built in a notebook cell,
 * before the run seeded anything, so starts from the run's seed like any other. (Sequential
 * networks only; another keeps the weights it has.)
 */
function withSeededWeights(model: tf.LayersModel): tf.LayersModel {
  if (!(model instanceof tf.Sequential)) return model;
  const fresh = tf.Sequential.fromConfig(
    tf.Sequential,
    model.getConfig() as tf.serialization.ConfigDict,
  ) as tf.Sequential;
  model.setWeights(fresh.getWeights());
  fresh.dispose();
  return model;
}

/** Copies the weights of checkpoint model `loaded` into `given` (disposing `loaded`). */
function intoGiven(ckpt: string, loaded: tf.LayersModel, given: tf.LayersModel): tf.LayersModel {
  const differences = layerDifferences(given, loaded, "checkpoint");
  if (differences.length) {
    loaded.dispose();
    throw new Error(
      `${ckpt}: the checkpoint holds another network than the one given ` +
        `(${differences.join("; ")}); resume with the same one`,
    );
  }
  given.setWeights(loaded.getWeights());
  loaded.dispose();
  return given;
}

/** Joins the history of resumed epochs and this run's. */
export function mergeHistory(previous: History, current: History): History {
  const keys = new Set([...Object.keys(previous), ...Object.keys(current)]);
  return Object.fromEntries(
    [...keys].map((k) => [k, [...(previous[k] ?? []), ...(current[k] ?? [])]]),
  );
}

/**
 * How a notebook stores its run: results.json and charts in `results/notebook-runs/<name>`
 * (replacing that notebook's previous run, never a CLI run's), nothing in smoke mode so that tests
 * leave no trace.
 */
export function notebookRun(
  name: string,
  mode: { name: string },
  root = resultsRoot(),
): RunOptions {
  return {
    out: mode.name === "smoke" ? undefined : path.join(root, "notebook-runs", name),
    force: true,
    mode: mode.name,
  };
}
