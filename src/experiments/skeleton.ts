import * as tf from "@tensorflow/tfjs";
import { currentBackend } from "../backend/init";
import type { TrainResult } from "../train/fit";
import { VegaLiteSpec } from "../viz/spec";
import { ExperimentRecord, timingsOf, versions, writeRecord } from "./record";
import { PreparedRun, RunOptions, mergeHistory, preflightRun, prepareRun } from "./session";
import { History } from "../core/history";
import { seedGlobalRandom } from "../core/random";
import { describeArchitecture } from "./architecture";
import { SettingRules, checkSettings } from "./settings-check";

/** Settings every experiment has: the epochs to train to and the seed of the run. */
export interface ExperimentSettings {
  epochs: number;
  seed: number;
}

/** What an experiment's {@link ExperimentSpec.train} gets. */
export interface TrainContext<D> {
  /** What {@link ExperimentSpec.load} returned. */
  data: D;
  /** The model to train (built and compiled, or restored when resuming), its callbacks etc. */
  prepared: PreparedRun;
  run: RunOptions;
  /**
   * Hands `tensors` to the skeleton, which disposes them when the run ends; with `returned`,
   * only when it fails (on success the caller of the runner gets them and disposes them).
   * @returns `tensors`, for destructuring.
   */
  own<T extends tf.Tensor[]>(tensors: T, options?: { returned?: boolean }): T;
}

/**
 * The book's value of a metric after some epochs, and the run's series recorded beside it: each
 * series `s` gives `metrics["<s.key>_epoch_<N>"]` for every such epoch N the run reached, and,
 * when `s.book`, `book["<s.key>_epoch_<N>"]` (the book's value under the same key).
 */
export interface BookEpochs {
  /** The book's value after each epoch it reports, e.g. `{ 1: 0.9693, 200: 0.995 }`. */
  values: Record<number, number>;
  /** The run's per-epoch series (whole history, resumed epochs included), in record order. */
  series: { key: string; values: number[]; book?: boolean }[];
}

/** What an experiment's {@link ExperimentSpec.evaluate} reports of a finished training. */
export interface Evaluation<O> {
  /** The final numbers, recorded first in `metrics` (before the per-epoch ones). */
  metrics: Record<string, number>;
  /** The book's values that are not per epoch, recorded first in `book`. */
  book?: Record<string, number>;
  /** The book's per-epoch values and the series they compare to; none: no per-epoch metrics. */
  bookEpochs?: BookEpochs;
  /** How the data was split, {@link ExperimentRecord.split}. */
  split: string;
  /** The history to record when it is not the training history as it is (default: that). */
  history?: History;
  /** Record fields after the timings (e.g. the initial weights). */
  extra?: Pick<ExperimentRecord, "initialWeights">;
  /** The charts written beside results.json; called only when the run has an output folder. */
  charts(): Record<string, VegaLiteSpec>;
  /** What the runner returns besides the model and the record. */
  outcome: O;
}

/**
 * One experiment, as {@link runExperiment} runs it: each runner (`runMnistExperiment`,
 * `runFashionExperiment`, `runSunspotsExperiment`) fills one in. `D` is its data, `T` what its
 * training call returns besides the training result, `O` what the runner returns besides the
 * model and the record.
 */
export interface ExperimentSpec<S extends ExperimentSettings, D, T, O> {
  /** The name errors start with, e.g. `mnist`. */
  name: string;
  /** The name of the run in its checkpoint and lock (default {@link name}). */
  runName?: string;
  /** {@link ExperimentRecord.experiment} (default {@link name}). */
  experiment?: string;
  settings: S;
  /** What each setting may be, checked before anything else. */
  rules: SettingRules<S>;
  /** The book's settings: what a checkpoint made before a setting existed ran with. */
  defaults?: S;
  /** Loads the data; runs after the output folder's checks, before any model is built. */
  load(): D;
  /** Checks the settings against the data. @throws naming the setting and what is allowed. */
  check(data: D): void;
  /** Builds the library's network for these settings (when the caller gives none). */
  build(): tf.LayersModel;
  /**
   * The caller's network (e.g. the book's listing as a notebook cell wrote it, maybe edited): it
   * is what trains, compiled as it is or by {@link compile} when it is not, from initial weights
   * drawn anew from the run's seed (a network that has trained already is refused).
   */
  given?: tf.LayersModel;
  /** Checks that a {@link given} network takes the data. @throws naming what does not fit. */
  checkModel?(model: tf.LayersModel): void;
  /** The book's network compiled as the book compiles it, to record how a run's differs. */
  book(): tf.LayersModel;
  /** Compiles a model built by {@link build} or restored from a checkpoint. */
  compile(model: tf.LayersModel): void;
  /** Makes the tensors (handed to `own`) and runs the training call through `prepared.training`. */
  train(context: TrainContext<D>): Promise<T & { result: TrainResult }>;
  /** Evaluates the trained model; `history` joins the resumed epochs and this run's. */
  evaluate(
    trained: T & { result: TrainResult },
    history: History,
    context: TrainContext<D>,
  ): Evaluation<O>;
}

/** What {@link runExperiment} returns: the trained model, the record and the spec's outcome. */
export type ExperimentOutcome<O> = O & {
  model: tf.LayersModel;
  record: Omit<ExperimentRecord, "charts">;
};

/**
 * Runs experiment `spec` with the storage options `run`: the settings' check, {@link preflightRun} (the output folder
 * and checkpoint checks, before any data is loaded), the data and the settings checks, then
 * {@link prepareRun} (the folder's lock, resume from its checkpoint, checkpoint saving, seeding),
 * the training, the per-epoch comparison with the book, the record (results.json and the
 * charts, written when `run.out` is given). Whatever happens after `prepareRun`, the tensors
 * the spec owned are disposed (returned ones only on failure) and `finish()` releases the lock
 * and restores `Math.random`.
 */
export async function runExperiment<S extends ExperimentSettings, D, T, O>(
  spec: ExperimentSpec<S, D, T, O>,
  run: RunOptions = {},
): Promise<ExperimentOutcome<O>> {
  const { name, settings } = spec;
  checkSettings(name, settings, spec.rules);
  preflightRun(run, name);
  const data = spec.load();
  spec.check(data);
  if (spec.given) {
    spec.checkModel?.(spec.given);
    assertUntrained(name, spec.given, run);
  }
  const prepared = await prepareRun(
    spec.runName ?? name,
    { ...(settings as S & Record<string, unknown>) },
    run,
    () => spec.given ?? spec.build(),
    (m) => spec.compile(m),
    spec.given,
    spec.defaults as Record<string, unknown> | undefined,
  );
  let architecture;
  try {
    architecture = describedAgainstBook(prepared.model, spec.book);
  } catch (e) {
    prepared.finish();
    throw e;
  }
  if (spec.given && !architecture.book)
    console.log(
      `${name}: the network trained differs from the book's:\n  ${architecture.differences.join("\n  ")}`,
    );
  const disposed: tf.Tensor[] = [];
  const disposedOnError: tf.Tensor[] = [];
  const context: TrainContext<D> = {
    data,
    prepared,
    run,
    own: (tensors, options) => {
      (options?.returned ? disposedOnError : disposed).push(...tensors);
      return tensors;
    },
  };
  try {
    const trained = await spec.train(context);
    const history = mergeHistory(prepared.previousHistory, trained.result.history);
    const evaluation = spec.evaluate(trained, history, context);
    const metrics = { ...evaluation.metrics };
    const book = { ...evaluation.book };
    if (evaluation.bookEpochs) addBookEpochs(evaluation.bookEpochs, metrics, book);
    const record: Omit<ExperimentRecord, "charts"> = {
      experiment: spec.experiment ?? name,
      mode: run.mode ?? "cli",
      settings: { ...(settings as S & Record<string, unknown>) },
      seed: settings.seed,
      backend: (run.backend ?? currentBackend())?.line ?? tf.getBackend(),
      date: new Date().toISOString(),
      versions: versions(),
      split: evaluation.split,
      metrics,
      book,
      history: evaluation.history ?? history,
      timings: timingsOf(trained.result),
      architecture,
      ...evaluation.extra,
    };
    if (run.out) await writeRecord(run.out, record, evaluation.charts(), { charts: run.charts });
    return { model: prepared.model, record, ...evaluation.outcome };
  } catch (e) {
    tf.dispose(disposedOnError);
    throw e;
  } finally {
    tf.dispose(disposed);
    prepared.finish();
  }
}

/**
 * Refuses a given network that has trained already (its optimizer has taken steps) unless the
 * run resumes: rerunning a training cell would otherwise continue from trained weights and the
 * optimizer's moments while the record calls it a fresh run.
 * @throws naming the steps and what to rerun.
 */
function assertUntrained(name: string, model: tf.LayersModel, run: RunOptions): void {
  const steps = (model.optimizer as { iterations?: number } | undefined)?.iterations ?? 0;
  if (steps > 0 && !run.resume)
    throw new Error(
      `${name}: this model has trained already (its optimizer took ${steps} step(s)); run the ` +
        "cells that build and compile it again to start afresh",
    );
}

/**
 * {@link describeArchitecture} of `model` against a fresh `book()` network, disposed after; built
 * under a generator of its own, so that the run's seeded `Math.random` draws nothing for it.
 */
function describedAgainstBook(model: tf.LayersModel, book: () => tf.LayersModel) {
  const restore = seedGlobalRandom(0);
  let reference: tf.LayersModel;
  try {
    reference = book();
  } finally {
    restore();
  }
  try {
    return describeArchitecture(model, reference);
  } finally {
    reference.optimizer?.dispose();
    reference.dispose();
  }
}

/** Adds the per-epoch entries of `epochs` to `metrics` and `book`, epoch by epoch. */
function addBookEpochs(
  epochs: BookEpochs,
  metrics: Record<string, number>,
  book: Record<string, number>,
): void {
  for (const [epoch, value] of Object.entries(epochs.values)) {
    const e = Number(epoch);
    for (const s of epochs.series) {
      const key = `${s.key}_epoch_${epoch}`;
      if (s.book) book[key] = value;
      if (s.values.length >= e) metrics[key] = s.values[e - 1];
    }
  }
}
