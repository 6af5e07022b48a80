import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";
import { Summary, summarize } from "../core/stats";
import { ExperimentRecord, historySeries, readRecord } from "./record";
import { History } from "../core/history";

/** The tracked folder of reference runs shipped with the pack (`reference/`, see its README.md). */
export const REFERENCE_DIR = path.join(ROOT, "reference");

/** The experiments with one shipped reference run each. */
export const REFERENCE_EXPERIMENTS = ["mnist", "fashion"] as const;

/**
 * Engines of the shipped sunspot distributions, each a folder
 * of `seed-N/results.json` under `reference/sunspots/`.
 */
export const SUNSPOT_ENGINES = ["tensorflow", "wasm", "keras", "keras-paired"] as const;
export type SunspotEngine = (typeof SUNSPOT_ENGINES)[number];

/** What each engine's runs were, in words. */
export const SUNSPOT_ENGINE_LABELS: Record<SunspotEngine, string> = {
  tensorflow: "pack, native TensorFlow",
  wasm: "pack, wasm",
  keras: "Keras 3 (Keras 2's defaults)",
  "keras-paired": "Keras 3 from the wasm runs' weights",
};

/**
 * The shipped reference run of `name` (`reference/<name>/results.json`).
 * @throws naming the file when it exists but is not a valid record; undefined when there is none.
 */
export function referenceRecord(
  name: (typeof REFERENCE_EXPERIMENTS)[number],
  root = REFERENCE_DIR,
): ExperimentRecord | undefined {
  return readRecord(path.join(root, name));
}

/** The shipped sunspot runs of one engine, in seed order (none when the folder is missing). */
export function sunspotRuns(engine: SunspotEngine, root = REFERENCE_DIR): ExperimentRecord[] {
  const dir = path.join(root, "sunspots", engine);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => /^seed-\d+$/.test(d))
    .map((d) => readRecord(path.join(dir, d))!)
    .filter((r) => r !== undefined)
    .sort((a, b) => a.seed - b.seed);
}

/** One engine's distribution of the final validation MSE over seeds. */
export interface SunspotDistribution {
  engine: SunspotEngine;
  label: string;
  seeds: number[];
  /** Final validation MSE per seed, in seed order. */
  finals: number[];
  summary: Summary;
  /** Per epoch, the median over seeds of the validation MSE. */
  medianCurve: number[];
  /** The backend line of the first run (engine, version, device). */
  backend: string;
  /** Date of the newest run. */
  date: string;
}

/** The distributions of every engine that has shipped runs. */
export function sunspotDistributions(root = REFERENCE_DIR): SunspotDistribution[] {
  return SUNSPOT_ENGINES.flatMap((engine) => {
    const runs = sunspotRuns(engine, root);
    if (runs.length === 0) return [];
    const curves = runs.map((r) => r.history.val_loss);
    const epochs = Math.min(...curves.map((c) => c.length));
    return [
      {
        engine,
        label: SUNSPOT_ENGINE_LABELS[engine],
        seeds: runs.map((r) => r.seed),
        finals: runs.map((r) => r.metrics.val_mse),
        summary: summarize(runs.map((r) => r.metrics.val_mse)),
        medianCurve: Array.from(
          { length: epochs },
          (_, e) => summarize(curves.map((c) => c[e])).median,
        ),
        backend: runs[0].backend,
        date: runs
          .map((r) => r.date)
          .sort()
          .at(-1)!,
      },
    ];
  });
}

/**
 * The settings a reference run was made with, for `npm run experiment -- <name> --reference`:
 * the shipped record's settings, and for sunspots the seeds of the native runs.
 * @throws when the pack has no such reference run.
 */
export function referenceSettings(
  name: "mnist" | "fashion" | "sunspots",
  root = REFERENCE_DIR,
): { settings: Record<string, unknown>; seeds: number[] } {
  if (name === "sunspots") {
    const runs = sunspotRuns("tensorflow", root);
    if (runs.length === 0)
      throw new Error(
        `${path.join(root, "sunspots", "tensorflow")}: no shipped sunspot runs to repeat`,
      );
    return { settings: runs[0].settings, seeds: runs.map((r) => r.seed) };
  }
  const record = referenceRecord(name, root);
  if (!record)
    throw new Error(`${path.join(root, name, "results.json")}: no shipped ${name} run to repeat`);
  return { settings: record.settings, seeds: [record.seed] };
}

/** One row of {@link epochComparison}. */
export type EpochRow = {
  epoch: string;
  reference: number | string;
  "this run": number | string;
  book: number | string;
};

/**
 * The book's epochs (e.g. 1, 2, 3 and 200) side by side for a reference curve and the reader's run,
 * then the reference's best and last epochs: what the notebooks show under "the reference run".
 * @param better `max` for accuracies, `min` for losses.
 */
export function epochComparison(
  reference: number[],
  run: number[],
  book: Record<number, number>,
  better: "max" | "min",
): EpochRow[] {
  if (reference.length === 0) throw new Error("epochComparison: the reference curve is empty");
  const at = (curve: number[], e: number) =>
    e <= curve.length ? curve[e - 1] : e <= 1 ? "-" : "not reached";
  const rows: EpochRow[] = Object.keys(book)
    .map(Number)
    .sort((a, b) => a - b)
    .map((e) => ({
      epoch: String(e),
      reference: at(reference, e),
      "this run": run.length >= e ? run[e - 1] : "-",
      book: book[e],
    }));
  const pick = better === "max" ? Math.max(...reference) : Math.min(...reference);
  rows.push({
    epoch: `best (${reference.indexOf(pick) + 1})`,
    reference: pick,
    "this run": run.length ? (better === "max" ? Math.max(...run) : Math.min(...run)) : "-",
    book: "-",
  });
  rows.push({
    epoch: `last (${reference.length})`,
    reference: reference[reference.length - 1],
    "this run": run.length ? run[run.length - 1] : "-",
    book: "-",
  });
  return rows;
}

/** A wasm sunspot run and the Keras run started from its initial weights. */
export interface PairedRun {
  seed: number;
  /** Validation MSE per epoch: this pack (wasm) and Keras from the same start. */
  pack: number[];
  keras: number[];
  /** Largest |pack / keras − 1| over the epochs. */
  maxRelativeDifference: number;
}

/** The seeds shipped both as `wasm` and `keras-paired` runs, epoch by epoch. */
export function pairedRuns(root = REFERENCE_DIR): PairedRun[] {
  const keras = new Map(sunspotRuns("keras-paired", root).map((r) => [r.seed, r.history.val_loss]));
  return sunspotRuns("wasm", root)
    .filter((r) => keras.has(r.seed))
    .map((r) => {
      const pack = r.history.val_loss,
        k = keras.get(r.seed)!;
      const n = Math.min(pack.length, k.length);
      let worst = 0;
      for (let e = 0; e < n; e++) worst = Math.max(worst, Math.abs(pack[e] / k[e] - 1));
      return { seed: r.seed, pack, keras: k, maxRelativeDifference: worst };
    });
}

/** A training log the book prints for a classifier: each logged epoch's Keras metrics. */
export type ClassifierLog = Record<
  number,
  { loss: number; acc: number; val_loss: number; val_acc: number }
>;

/** One column pair of {@link bookLogTable}: the book's log key and the run's history key. */
export interface LogColumn {
  /** Key of the book's log, e.g. `loss`, `val_acc`; the column pair's label. */
  book: string;
  /** The run's history key (default `book`; `acc`/`accuracy` aliases are followed). */
  run?: string;
}

/**
 * The book's training log beside a run's history, epoch by epoch: for each epoch the book
 * prints (its first three always, the later ones once the run has reached them), each column's
 * value in this run (`-` before it got there) and in the book, as `<label> (this run)` and
 * `<label> (book)`.
 */
export function bookLogTable(
  history: History,
  log: Record<number, Record<string, number>>,
  columns: LogColumn[],
): Record<string, number | string>[] {
  const series = columns.map((c) => historySeries({ history }, c.run ?? c.book));
  const reached = Math.max(0, ...series.map((s) => s.length));
  return Object.keys(log)
    .map(Number)
    .filter((epoch) => epoch <= 3 || epoch <= reached)
    .map((epoch) => {
      const row: Record<string, number | string> = { epoch };
      columns.forEach((c, k) => {
        row[`${c.book} (this run)`] = series[k][epoch - 1] ?? "-";
        row[`${c.book} (book)`] = log[epoch][c.book];
      });
      return row;
    });
}
