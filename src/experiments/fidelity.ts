import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { at } from "../core/matrix";
import { conv2dValid, validOutputSize } from "../conv/naive";
import { LAPLACIAN } from "../conv/filters";
import { receptiveField } from "../conv/geometry";
import { depthwiseSeparableParams, standardConvParams } from "../conv/counts";
import { whiteSquare } from "../data/images";
import { fashionCnn, mnistCnn } from "../models/cnn";
import { sunspotRnn } from "../models/rnn";
import { ExperimentRecord, RESULTS_ENV, readRecord, historySeries, runSummary } from "./record";
import { MNIST_BOOK_ACCURACY } from "./mnist";
import { FASHION_BOOK_ACCURACY } from "./fashion";
import { summarize } from "../core/stats";
import {
  REFERENCE_DIR,
  REFERENCE_EXPERIMENTS,
  SUNSPOT_ENGINE_LABELS,
  SunspotEngine,
  referenceRecord,
  sunspotRuns,
} from "./reference-runs";

/** A results.json found under the results folder, and where. */
export interface FoundRecord {
  dir: string;
  /** `cli` (results/experiments) or `notebook` (results/notebook-runs). */
  origin: "cli" | "notebook";
  record?: ExperimentRecord;
  /** Why the file could not be read, when it could not. */
  error?: string;
}

/**
 * Every results.json in `root/experiments/*` and `root/notebook-runs/*`; unreadable ones are
 * listed with their error.
 */
export function findRecords(root: string): FoundRecord[] {
  const found: FoundRecord[] = [];
  if (fs.existsSync(root) && !fs.statSync(root).isDirectory()) {
    const error =
      "not a folder, so no run of yours can be read from it " +
      `(${RESULTS_ENV} must name a folder)`;
    return [{ dir: root, origin: "cli", error }];
  }
  for (const [sub, origin] of [
    ["experiments", "cli"],
    ["notebook-runs", "notebook"],
  ] as const) {
    const dir = path.join(root, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const d = path.join(dir, name);
      if (!fs.existsSync(path.join(d, "results.json"))) continue;
      try {
        found.push({ dir: d, origin, record: readRecord(d) });
      } catch (e) {
        found.push({ dir: d, origin, error: (e as Error).message });
      }
    }
  }
  return found;
}

/** Where a claim's value comes from. */
export type ClaimSource =
  /** Computed on the spot (cheap). */
  | { compute: () => string }
  /**
   * An experiment's result: a key of its `metrics`, or `max(h)` / `last(h)` of its history `h`
   * (`val_acc` also finds `val_accuracy`). Shown from the shipped reference run and the reader's
   * own.
   */
  | { experiment: string; metric: string; digits?: number }
  /** The median final validation MSE of one engine's shipped sunspot runs (reference only). */
  | { sunspots: SunspotEngine };

/** One claim of the chapter: what the book says and how this pack checks it. */
export interface Claim {
  section: string;
  claim: string;
  book: string;
  ours: ClaimSource;
  /** A note when the book is wrong or measured something else. */
  note?: string;
}

const fmtShape = (s: (number | null)[]) => s.slice(1).join("×");

/** The chapter's numbers and claims, in the order of the book. */
export const CHAPTER_CLAIMS: Claim[] = [
  {
    section: "二维离散卷积",
    claim: "100×100 image, 3×3 kernel, valid padding",
    book: "98×98",
    ours: { compute: () => validOutputSize(100, 100, 3, 3).join("×") },
  },
  {
    section: "二维离散卷积",
    claim: "Laplacian across a black/white edge (0, 1, 1), normalised",
    book: "(0.75, 0.0, 0.25)",
    ours: {
      compute: () => {
        const lap = conv2dValid(whiteSquare(40, 20), LAPLACIAN);
        const shown = (c: number) => Math.min(1, Math.max(0, 0.25 + at(lap, 19, c - 1) / 2));
        return `(${[9, 10, 11].map((c) => shown(c).toFixed(2)).join(", ")})`;
      },
    },
    note: "only with the display map clip(0.25 + v/2, 0, 1); min-max gives (1, 0.33, 0.67)",
  },
  {
    section: "空洞卷积",
    claim: "receptive field of a 3×3 kernel at dilation rate 2",
    book: "9×9",
    ours: { compute: () => `${receptiveField(3, 2)}×${receptiveField(3, 2)}` },
    note: "the book is wrong: k + (k−1)(d−1) = 5; 9×9 needs rate 4",
  },
  {
    section: "可分离卷积",
    claim: "depthwise separable vs standard parameters, 3×3, 64 → 128 channels",
    book: "n·m·p + p·q vs n·m·p·q",
    ours: {
      compute: () => {
        const separable = depthwiseSeparableParams(3, 3, 64, 128).toLocaleString("en-US");
        return `${separable} vs ${standardConvParams(3, 3, 64, 128).toLocaleString("en-US")}`;
      },
    },
  },
  {
    section: "转置卷积",
    claim: "128×128×256 → Conv2DTranspose(3 filters, stride 4, same)",
    book: "512×512×3",
    ours: {
      compute: () =>
        fmtShape(
          tf.layers
            .conv2dTranspose({ filters: 3, kernelSize: 3, strides: 4, padding: "same" })
            .computeOutputShape([null, 128, 128, 256]) as number[],
        ),
    },
  },
  {
    section: "池化层",
    claim: "2×2 pooling, stride 2, on 28×28",
    book: "halved (stride (2, 2))",
    ours: {
      compute: () =>
        fmtShape(
          tf.layers.maxPooling2d({ poolSize: 2 }).computeOutputShape([null, 28, 28, 1]) as number[],
        )
          .split("×")
          .slice(0, 2)
          .join("×"),
    },
  },
  {
    section: "使用 Keras 的深度卷积网络示例",
    claim: "MNIST CNN parameters",
    book: "not stated (Keras count_params: 1,120,074)",
    ours: { compute: () => countOf(mnistCnn) },
  },
  ...[1, 2, 3].map((e) => ({
    section: "使用 Keras 的深度卷积网络示例",
    claim: `MNIST validation accuracy after epoch ${e}`,
    book: MNIST_BOOK_ACCURACY[e].toFixed(4),
    ours: { experiment: "mnist", metric: `val_accuracy_epoch_${e}` },
  })),
  {
    section: "使用 Keras 的深度卷积网络示例",
    claim: "MNIST best validation accuracy (the book: after 200 epochs)",
    book: "0.9950",
    ours: { experiment: "mnist", metric: "max(val_acc)" },
    note: "the book reports its last epoch; the reference run's epochs are in its description (Runs)",
  },
  {
    section: "使用 Keras 的深度卷积网络示例",
    claim: "MNIST validation accuracy at the last epoch (the book: 200)",
    book: "0.9950",
    ours: { experiment: "mnist", metric: "last(val_acc)" },
  },
  {
    section: "使用 Keras 和数据增强的深度卷积网络的示例",
    claim: "Fashion-MNIST CNN parameters",
    book: "not stated (Keras count_params: 7,770,442)",
    ours: { compute: () => countOf(fashionCnn) },
  },
  ...[1, 2, 3].map((e) => ({
    section: "使用 Keras 和数据增强的深度卷积网络的示例",
    claim:
      `Fashion-MNIST validation accuracy after epoch ${e}, ` +
      "book's protocol (augmented test images)",
    book: FASHION_BOOK_ACCURACY[e].toFixed(4),
    ours: { experiment: "fashion", metric: `val_accuracy_augmented_epoch_${e}` },
  })),
  ...[1, 2, 3].map((e) => ({
    section: "使用 Keras 和数据增强的深度卷积网络的示例",
    claim: `Fashion-MNIST validation accuracy after epoch ${e}, clean test images`,
    book: "not reported",
    ours: { experiment: "fashion", metric: `val_accuracy_epoch_${e}` },
    note: "BatchNorm moving averages as trained, as Keras validates",
  })),
  {
    section: "使用 Keras 和数据增强的深度卷积网络的示例",
    claim: "Fashion-MNIST accuracy at the end of training, book's (augmented) protocol",
    book: "0.9339",
    ours: { experiment: "fashion", metric: "test_accuracy_augmented" },
    note: "after BatchNorm recalibration on 2,048 training images",
  },
  {
    section: "使用 Keras 和数据增强的深度卷积网络的示例",
    claim: "Fashion-MNIST accuracy at the end of training, clean test images",
    book: "not reported",
    ours: { experiment: "fashion", metric: "test_accuracy_clean" },
    note: "after BatchNorm recalibration on 2,048 training images",
  },
  {
    section: "Keras 中的 LSTM 网络示例",
    claim: "sunspot windows of 15 months",
    book: "2,805 (2,300 train, 500 test)",
    ours: { compute: () => `${(2820 - 15).toLocaleString("en-US")} (2,300 train, 500 test)` },
  },
  {
    section: "Keras 中的 LSTM 网络示例",
    claim: "stateful LSTM(4) parameters",
    book: "not stated (Keras count_params: 101)",
    ours: { compute: () => countOf(() => sunspotRnn()) },
  },
  {
    section: "Keras 中的 LSTM 网络示例",
    claim: "sunspot validation MSE after epoch 1",
    book: "0.1827",
    ours: { experiment: "sunspots lstm book", metric: "val_mse_epoch_1" },
  },
  {
    section: "Keras 中的 LSTM 网络示例",
    claim: "sunspot validation MSE after 100 epochs",
    book: "0.0247",
    ours: { experiment: "sunspots lstm book", metric: "val_mse" },
    note: "reference: median over seeds (range in its description, Runs); the book ran once",
  },
  ...(["wasm", "keras"] as const).map((engine) => ({
    section: "Keras 中的 LSTM 网络示例",
    claim: `sunspot validation MSE after 100 epochs: ${SUNSPOT_ENGINE_LABELS[engine]}`,
    book: "0.0247",
    ours: { sunspots: engine },
  })),
];

function countOf(build: () => tf.LayersModel): string {
  const m = build();
  const n = m.countParams();
  m.dispose();
  return n.toLocaleString("en-US");
}

/** The reader's newest run of `experiment` that has `metric`. */
export function latestRecord(
  found: FoundRecord[],
  experiment: string,
  metric: string,
): FoundRecord | undefined {
  const candidates = found.filter(
    (f) => f.record?.experiment === experiment && metricOf(f.record, metric) !== undefined,
  );
  return candidates.sort((a, b) => b.record!.date.localeCompare(a.record!.date))[0];
}

/**
 * A claim's metric of one record: a key of `metrics`, or `max(h)` / `last(h)` of history `h`;
 * undefined when absent.
 */
export function metricOf(record: ExperimentRecord, metric: string): number | undefined {
  const m = /^(max|last)\((\w+)\)$/.exec(metric);
  if (!m) return typeof record.metrics[metric] === "number" ? record.metrics[metric] : undefined;
  const h = historySeries(record, m[2]);
  if (!h.length) return undefined;
  return m[1] === "max" ? Math.max(...h) : h[h.length - 1];
}

/** One row of the fidelity table. */
export interface FidelityRow {
  section: string;
  claim: string;
  book: string;
  /** The shipped reference value, or the value computed now. */
  reference: string;
  /** How the reference value was made: epochs, backend, date (or "computed now"; "-"). */
  referenceRun: string;
  /** The reader's newest run's value (`not run yet`; `-` for a number computed now). */
  yours: string;
  /**
   * How the reader's run was made: where, mode, epochs, backend, date, led by
   * "MODIFIED network or optimizer" when its network is not the book's ("" without a run).
   */
  yoursRun: string;
  note: string;
}

/** The shipped reference records, each read once however many claims ask for it. */
class ShippedReferences {
  private readonly records = new Map<string, ExperimentRecord | undefined>();
  private readonly seeds = new Map<SunspotEngine, ExperimentRecord[]>();

  constructor(private readonly root: string) {}

  record(experiment: string): ExperimentRecord | undefined {
    if (!(REFERENCE_EXPERIMENTS as readonly string[]).includes(experiment)) return undefined;
    if (!this.records.has(experiment))
      this.records.set(
        experiment,
        referenceRecord(experiment as (typeof REFERENCE_EXPERIMENTS)[number], this.root),
      );
    return this.records.get(experiment);
  }

  sunspotRuns(engine: SunspotEngine): ExperimentRecord[] {
    if (!this.seeds.has(engine)) this.seeds.set(engine, sunspotRuns(engine, this.root));
    return this.seeds.get(engine)!;
  }
}

/** The median of `metric` over one engine's shipped sunspot seeds, and how it was made. */
function seedMedianCell(
  runs: ExperimentRecord[],
  metric: string,
  digits: number,
): [string, string] {
  const values = runs.map((r) => metricOf(r, metric)).filter((v): v is number => v !== undefined);
  if (values.length === 0) return ["not shipped", "-"];
  const s = summarize(values);
  return [
    s.median.toFixed(digits),
    `median of ${s.n} seeds (${s.min.toFixed(digits)}–${s.max.toFixed(digits)}), ` +
      runSummary(runs[0]),
  ];
}

/** The shipped reference value of a claim (or the one computed now), and how it was made. */
function referenceCell(source: ClaimSource, shipped: ShippedReferences): [string, string] {
  if ("compute" in source) return [source.compute(), "computed now"];
  if ("sunspots" in source)
    return seedMedianCell(shipped.sunspotRuns(source.sunspots), "val_mse", 4);
  const digits = source.digits ?? 4;
  if (source.experiment === "sunspots lstm book")
    return seedMedianCell(shipped.sunspotRuns("tensorflow"), source.metric, digits);
  const record = shipped.record(source.experiment);
  const value = record && metricOf(record, source.metric);
  return value === undefined ? ["not shipped", "-"] : [value.toFixed(digits), runSummary(record!)];
}

/**
 * The fidelity table: every claim of {@link CHAPTER_CLAIMS} beside the value of the reference run
 * shipped in `referenceRoot` (or computed on the spot) and the reader's newest run under
 * `resultsRoot` (`not run yet` when there is none), each with its epochs, backend and date.
 */
export function fidelityTable(
  resultsRoot: string,
  claims: Claim[] = CHAPTER_CLAIMS,
  referenceRoot = REFERENCE_DIR,
): FidelityRow[] {
  const found = findRecords(resultsRoot);
  const shipped = new ShippedReferences(referenceRoot);
  return claims.map((c) => {
    const [reference, referenceRun] = referenceCell(c.ours, shipped);
    let yours = "-";
    let yoursRun = "";
    if ("experiment" in c.ours) {
      const source = c.ours;
      const latest = latestRecord(found, source.experiment, source.metric);
      if (latest) {
        const record = latest.record!;
        yours = metricOf(record, source.metric)!.toFixed(source.digits ?? 4);
        const modified =
          record.architecture?.book === false ? "MODIFIED network or optimizer, " : "";
        yoursRun = `${modified}${latest.origin}, ${record.mode}, ${runSummary(record)}`;
      } else {
        yours = "not run yet";
      }
    }
    return {
      section: c.section,
      claim: c.claim,
      book: c.book,
      reference,
      referenceRun,
      yours,
      yoursRun,
      note: c.note ?? "",
    };
  });
}
