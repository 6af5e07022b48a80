import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { at } from "../core/matrix";
import { conv2dValid, validOutputSize } from "../conv/naive";
import { LAPLACIAN } from "../conv/kernels";
import { receptiveField } from "../conv/geometry";
import { depthwiseSeparableParams, standardConvParams } from "../conv/counts";
import { whiteSquare } from "../data/images";
import { fashionCnn, mnistCnn } from "../models/cnn";
import { sunspotRnn } from "../models/rnn";
import { ExperimentRecord, readRecord, backendLabel } from "./record";

/** A results.json found under the results folder, and where. */
export interface FoundRecord {
  dir: string;
  /** `cli` (results/experiments) or `notebook` (results/notebook-runs). */
  origin: "cli" | "notebook";
  record?: ExperimentRecord;
  /** Why the file could not be read, when it could not. */
  error?: string;
}

/** Every results.json in `root/experiments/*` and `root/notebook-runs/*`; unreadable ones are listed with their error. */
export function findRecords(root: string): FoundRecord[] {
  const found: FoundRecord[] = [];
  for (const [sub, origin] of [["experiments", "cli"], ["notebook-runs", "notebook"]] as const) {
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

/** One claim of the chapter: what the book says and how this pack checks it. */
export interface Claim {
  section: string;
  claim: string;
  book: string;
  /** Computed on the spot (cheap), or read from an experiment's results.json. */
  ours: { compute: () => string } | { experiment: string; metric: string; digits?: number };
  /** A note when the book is wrong or measured something else. */
  note?: string;
}

const fmtShape = (s: (number | null)[]) => s.slice(1).join("×");

/** The chapter's numbers and claims, in the order of the book. */
export const CHAPTER_CLAIMS: Claim[] = [
  { section: "二维离散卷积", claim: "100×100 image, 3×3 kernel, valid padding", book: "98×98", ours: { compute: () => validOutputSize(100, 100, 3, 3).join("×") } },
  { section: "二维离散卷积", claim: "Laplacian across a black/white edge (0, 1, 1), normalised", book: "(0.75, 0.0, 0.25)", ours: { compute: () => {
    const lap = conv2dValid(whiteSquare(40, 20), LAPLACIAN);
    return `(${[9, 10, 11].map((c) => Math.min(1, Math.max(0, 0.25 + at(lap, 19, c - 1) / 2)).toFixed(2)).join(", ")})`;
  } }, note: "only with the display map clip(0.25 + v/2, 0, 1); min-max gives (1, 0.33, 0.67)" },
  { section: "空洞卷积", claim: "receptive field of a 3×3 kernel at dilation rate 2", book: "9×9", ours: { compute: () => `${receptiveField(3, 2)}×${receptiveField(3, 2)}` }, note: "the book is wrong: k + (k−1)(d−1) = 5; 9×9 needs rate 4" },
  { section: "可分离卷积", claim: "depthwise separable vs standard parameters, 3×3, 64 → 128 channels", book: "n·m·p + p·q vs n·m·p·q", ours: { compute: () => `${depthwiseSeparableParams(3, 3, 64, 128).toLocaleString("en-US")} vs ${standardConvParams(3, 3, 64, 128).toLocaleString("en-US")}` } },
  { section: "转置卷积", claim: "128×128×256 → Conv2DTranspose(3 filters, stride 4, same)", book: "512×512×3", ours: { compute: () => fmtShape(tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 4, padding: "same" }).computeOutputShape([null, 128, 128, 256]) as number[]) } },
  { section: "池化层", claim: "2×2 pooling, stride 2, on 28×28", book: "14×14", ours: { compute: () => fmtShape(tf.layers.maxPooling2d({ poolSize: 2 }).computeOutputShape([null, 28, 28, 1]) as number[]).split("×").slice(0, 2).join("×") } },
  { section: "使用 Keras 的深度卷积网络示例", claim: "MNIST CNN parameters", book: "1,120,074", ours: { compute: () => countOf(mnistCnn) } },
  { section: "使用 Keras 的深度卷积网络示例", claim: "MNIST validation accuracy after epoch 1", book: "0.9693", ours: { experiment: "mnist", metric: "val_accuracy_epoch_1" } },
  { section: "使用 Keras 的深度卷积网络示例", claim: "MNIST validation accuracy after 200 epochs", book: "0.9950", ours: { experiment: "mnist", metric: "val_accuracy_epoch_200" } },
  { section: "使用 Keras 和数据增强的深度卷积网络的示例", claim: "Fashion-MNIST CNN parameters", book: "7,770,442", ours: { compute: () => countOf(fashionCnn) } },
  { section: "使用 Keras 和数据增强的深度卷积网络的示例", claim: "Fashion-MNIST validation accuracy after epoch 1", book: "0.8952", ours: { experiment: "fashion", metric: "val_accuracy_epoch_1" }, note: "ours: clean test images, with BatchNorm's moving averages as trained (at chance after short runs: see the recalibrated clean accuracy below); the book's were augmented" },
  { section: "使用 Keras 和数据增强的深度卷积网络的示例", claim: "Fashion-MNIST accuracy, book's (augmented) protocol", book: "0.9339", ours: { experiment: "fashion", metric: "test_accuracy_augmented" } },
  { section: "使用 Keras 和数据增强的深度卷积网络的示例", claim: "Fashion-MNIST accuracy on clean test images", book: "not reported", ours: { experiment: "fashion", metric: "test_accuracy_clean" } },
  { section: "Keras 中的 LSTM 网络示例", claim: "sunspot windows of 15 months", book: "2,805 (2,300 train, 500 test)", ours: { compute: () => `${(2820 - 15).toLocaleString("en-US")} (2,300 train, 500 test)` } },
  { section: "Keras 中的 LSTM 网络示例", claim: "stateful LSTM(4) parameters", book: "not stated (Keras count_params: 101)", ours: { compute: () => countOf(() => sunspotRnn()) } },
  { section: "Keras 中的 LSTM 网络示例", claim: "sunspot validation MSE after epoch 1", book: "0.1827", ours: { experiment: "sunspots lstm book", metric: "val_mse_epoch_1" } },
  { section: "Keras 中的 LSTM 网络示例", claim: "sunspot validation MSE at the end of training (the book: 100 epochs)", book: "0.0247", ours: { experiment: "sunspots lstm book", metric: "val_mse", digits: 4 } },
];

function countOf(build: () => tf.LayersModel): string {
  const m = build();
  const n = m.countParams();
  m.dispose();
  return n.toLocaleString("en-US");
}

/** The run that best represents an experiment: the one with the most epochs (the book's settings), then the newest. */
export function bestRecord(found: FoundRecord[], experiment: string, metric: string): FoundRecord | undefined {
  const candidates = found.filter((f) => f.record?.experiment === experiment && typeof f.record.metrics[metric] === "number");
  const epochs = (f: FoundRecord) => f.record!.metrics.epochs ?? 0;
  return candidates.sort((a, b) => epochs(b) - epochs(a) || b.record!.date.localeCompare(a.record!.date))[0];
}

/** One row of the fidelity table. */
export interface FidelityRow {
  section: string;
  claim: string;
  book: string;
  "this pack": string;
  run: string;
  note: string;
}

/**
 * The fidelity table: every claim of {@link CHAPTER_CLAIMS} beside this pack's value, computed on
 * the spot or read from the best results.json under `root` (`not run yet` when there is none),
 * with the run's origin, settings, backend and date.
 */
export function fidelityTable(root: string, claims: Claim[] = CHAPTER_CLAIMS): FidelityRow[] {
  const found = findRecords(root);
  return claims.map((c) => {
    let ours = "not run yet", run = "-";
    if ("compute" in c.ours) {
      ours = c.ours.compute();
      run = "computed now";
    } else {
      const best = bestRecord(found, c.ours.experiment, c.ours.metric);
      if (best) {
        const r = best.record!;
        ours = r.metrics[c.ours.metric].toFixed(c.ours.digits ?? 4);
        run = `${best.origin} (${r.mode}), ${r.metrics.epochs ?? "?"} epoch(s); ${backendLabel(r.backend)}; ${r.date.slice(0, 10)}`;
      }
    }
    return { section: c.section, claim: c.claim, book: c.book, "this pack": ours, run, note: c.note ?? "" };
  });
}
