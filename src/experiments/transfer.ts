import * as tf from "@tensorflow/tfjs";
import { seedGlobalRandom } from "../core/random";
import { ImageDataset, toTensors } from "../data/image-dataset";
import { selectClasses } from "../data/subsets";
import { convBase, withHead } from "../models/transfer";
import { accuracy, predictClasses } from "../train/evaluate";
import { fileHandler } from "../train/file-io";
import { train } from "../train/fit";

/** Options of {@link fewShotComparison}. */
export interface FewShotOptions {
  /** Labelled images per class to try (e.g. 10, 50, 200). */
  perClass: number[];
  /** Optimizer steps per run (epochs are chosen to give about this many; at least 5 epochs). */
  steps: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

/** One run of {@link fewShotComparison}. */
export interface FewShotRow {
  perClass: number;
  labelled: number;
  method: string;
  accuracy: number;
  seconds: number;
  trainableParams: number;
}

/** Trainable parameters of a model (what the optimizer updates). */
export function trainableParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce(
    (s, w) => s + (w.shape as number[]).reduce((p, d) => p * d, 1),
    0,
  );
}

/** Epochs that give about `steps` optimizer steps on `samples` images (at least 5). */
export const epochsFor = (samples: number, batchSize: number, steps: number) =>
  Math.max(5, Math.ceil(steps / Math.ceil(samples / batchSize)));

/**
 * Trains `model` (compiled here with Adam) on `data` for about `steps` steps and returns its
 * accuracy on `test` and the time taken. The caller owns and disposes the model.
 */
export async function fitAndScore(
  model: tf.LayersModel,
  data: ImageDataset,
  test: ImageDataset,
  options: {
    steps: number;
    batchSize?: number;
    learningRate?: number;
    title?: string;
    progress?: boolean;
  },
): Promise<{ accuracy: number; seconds: number }> {
  const batchSize = options.batchSize ?? 32;
  model.compile({
    optimizer: tf.train.adam(options.learningRate ?? 1e-3),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const classes = model.outputs[0].shape[1] as number;
  const [x, y] = toTensors(data, 0, data.count, classes);
  const [xt] = toTensors(test, 0, test.count, classes);
  try {
    const started = Date.now();
    await train(model, x, y, {
      epochs: epochsFor(data.count, batchSize, options.steps),
      batchSize,
      progress: options.progress ?? false,
      title: options.title,
    });
    const seconds = (Date.now() - started) / 1000;
    return { accuracy: accuracy(test.labels, predictClasses(model, xt)), seconds };
  } finally {
    tf.dispose([x, y, xt]);
  }
}

/**
 * The transfer-learning experiment: for each number of labelled images per class, trains (a) the
 * saved base in `baseDir`, loaded with `tf.loadLayersModel` and frozen, with a new head, and (b)
 * the same architecture from scratch, on the same images, and scores both on `test`. `train` and
 * `test` hold the new task's classes already relabelled 0..k−1 (see selectClasses). Each run
 * seeds `Math.random` (seed + labels per class), so results repeat on the same backend.
 */
export async function fewShotComparison(
  baseDir: string,
  trainSet: ImageDataset,
  test: ImageDataset,
  options: FewShotOptions,
): Promise<FewShotRow[]> {
  const classes = Math.max(...test.labels) + 1;
  const ids = Array.from({ length: classes }, (_, i) => i);
  const rows: FewShotRow[] = [];
  for (const k of options.perClass) {
    const data = selectClasses(trainSet, ids, { perClass: k, seed: options.seed });
    for (const method of ["transfer (frozen base)", "from scratch"]) {
      // same head initialisation and shuffling for both methods
      const restore = seedGlobalRandom((options.seed ?? 1) + k);
      try {
        const base =
          method === "from scratch" ? convBase() : await tf.loadLayersModel(fileHandler(baseDir));
        base.trainable = method === "from scratch";
        const model = withHead(base, classes);
        const r = await fitAndScore(model, data, test, {
          ...options,
          title: `${method}, ${k} per class`,
        });
        rows.push({
          perClass: k,
          labelled: data.count,
          method,
          accuracy: r.accuracy,
          seconds: r.seconds,
          trainableParams: trainableParams(model),
        });
        model.dispose();
      } finally {
        restore();
      }
    }
  }
  return rows;
}
