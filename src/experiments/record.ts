import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { svgToPng, toSvg } from "../viz/render";
import { VegaLiteSpec } from "../viz/spec";
import type { TrainResult } from "../train/fit";
import { recordShapeProblems } from "./record-shape";
import { History } from "../core/history";
import type { Architecture } from "./architecture";

/** The environment variable that moves the results folder (default `results/` in the package). */
export const RESULTS_ENV = "CH10_RESULTS";

/** What one experiment run wrote to `results.json`. */
export interface ExperimentRecord {
  /** Experiment name, e.g. `mnist`. */
  experiment: string;
  /** Run mode or `cli`, and the settings the run used (samples, epochs, hyper-parameters). */
  mode: string;
  settings: Record<string, unknown>;
  seed: number;
  /** The backend line printed by initBackend. */
  backend: string;
  /** When the run finished (ISO 8601). */
  date: string;
  versions: { node: string; tfjs: string; package: string };
  /** How the data was split (e.g. canonical MNIST or the seeded Fashion-MNIST split). */
  split: string;
  /** Final numbers, e.g. `test_accuracy`. */
  metrics: Record<string, number>;
  /** The book's value for metrics it reports, under the same keys. */
  book: Record<string, number>;
  /** One value per epoch, Keras's `history.history`. */
  history: History;
  /**
   * Training time; `threads`: data-parallel threads (absent in records made before they
   * existed).
   */
  timings: {
    totalSeconds: number;
    epochSeconds: number[];
    samplesPerSecond: number;
    threads?: number;
  };
  /** Chart files written beside results.json (SVG and PNG of each). */
  charts: string[];
  /**
   * The model's weights before training (small models only): another engine can start from the
   * same point.
   */
  initialWeights?: Record<string, RecordedWeight>;
  /**
   * The network, optimizer and loss that trained, and whether they are the book's (absent in
   * records made before it was recorded).
   */
  architecture?: Architecture;
  /** `keras` for records written by the Keras comparison scripts; absent for this pack's runs. */
  engine?: string;
}

/**
 * One weight of {@link ExperimentRecord.initialWeights}: its position in `model.getWeights()`,
 * shape and values.
 */
export interface RecordedWeight {
  order: number;
  shape: number[];
  values: number[];
}

/** The weights of `model` as {@link ExperimentRecord.initialWeights}, keyed by weight name. */
export function recordWeights(model: tf.LayersModel): Record<string, RecordedWeight> {
  return Object.fromEntries(
    model.weights.map((w, order) => [
      w.originalName,
      { order, shape: w.shape as number[], values: Array.from(w.read().dataSync()) },
    ]),
  );
}

/** The results folder: `$CH10_RESULTS`, else `results/` at the package root. */
export function resultsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[RESULTS_ENV] || path.join(__dirname, "..", "..", "results"));
}

/** Versions recorded with every result. */
export function versions(): ExperimentRecord["versions"] {
  const pkg = JSON.parse(
    fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"),
  ) as { version: string };
  return { node: process.version, tfjs: tf.version.tfjs, package: pkg.version };
}

/**
 * Writes `results.json` and every chart (as `<name>.svg` and `<name>.png`) into `dir`, creating it.
 * results.json is written to a temporary file and renamed, so a crash never leaves half a file.
 * @returns the paths written.
 */
export async function writeRecord(
  dir: string,
  record: Omit<ExperimentRecord, "charts">,
  charts: Record<string, VegaLiteSpec> = {},
  options: { charts?: boolean } = {},
): Promise<string[]> {
  if (options.charts === false) charts = {};
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, spec] of Object.entries(charts)) {
    const svg = await toSvg(spec);
    for (const [ext, content] of [
      ["svg", svg],
      ["png", await svgToPng(svg)],
    ] as const) {
      const file = path.join(dir, `${name}.${ext}`);
      fs.writeFileSync(file, content);
      written.push(file);
    }
  }
  const file = path.join(dir, "results.json");
  fs.writeFileSync(
    `${file}.tmp`,
    JSON.stringify({ ...record, charts: Object.keys(charts) }, null, 1),
  );
  fs.renameSync(`${file}.tmp`, file);
  return [file, ...written];
}

/**
 * Reads `dir/results.json`.
 * @returns undefined when there is none.
 * @throws naming the file when it is not valid JSON or not of the shape of an ExperimentRecord
 *   ({@link recordShapeProblems}: a field missing or of another type).
 */
export function readRecord(dir: string): ExperimentRecord | undefined {
  const file = path.join(dir, "results.json");
  if (!fs.existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const problems = recordShapeProblems(value);
  if (problems.length)
    throw new Error(`${file}: not an experiment record (${problems.join("; ")})`);
  return value as ExperimentRecord;
}

/** The `timings` of a record, from what `train()` returned. */
export function timingsOf(result: TrainResult): ExperimentRecord["timings"] {
  return {
    totalSeconds: result.epochSeconds.reduce((a, b) => a + b, 0),
    epochSeconds: result.epochSeconds,
    samplesPerSecond: result.samplesPerSecond,
    threads: result.threads.count,
  };
}

/**
 * One history series of a record; `val_acc` and `acc` also find Keras 3's `val_accuracy` /
 * `accuracy`. Empty when absent.
 */
export function historySeries(record: Pick<ExperimentRecord, "history">, key: string): number[] {
  const alias: Record<string, string> = {
    val_acc: "val_accuracy",
    acc: "accuracy",
    val_accuracy: "val_acc",
    accuracy: "acc",
  };
  return record.history[key] ?? record.history[alias[key]] ?? [];
}

/**
 * How a run was made, in one line:
 * `50 epoch(s); tensorflow (TensorFlow 2.21.0, CPU, ...); 2026-12-02`.
 */
export function runSummary(record: ExperimentRecord): string {
  const epochs = record.metrics.epochs ?? "?";
  return `${epochs} epoch(s); ${backendLabel(record.backend)}; ${record.date.slice(0, 10)}`;
}

/**
 * What trained a run, thread-wise: `2 data-parallel threads`, `1 thread`, or TensorFlow's own
 * pool on native TensorFlow.
 */
export function threadsLabel(record: Pick<ExperimentRecord, "backend" | "timings">): string {
  if (backendLabel(record.backend).startsWith("tensorflow")) return "TensorFlow's own thread pool";
  const n = record.timings.threads ?? 1;
  return n > 1 ? `${n} data-parallel threads` : "1 thread";
}

/** A record's backend line without the reason it was chosen: `wasm (SIMD, 1 thread)`. */
export function backendLabel(line: string): string {
  return line.replace(/^backend: /, "").split(":")[0];
}
