import * as tf from "@tensorflow/tfjs";
import { RunModeName } from "../core/mode";
import { loadMnist } from "../data/mnist";
import { ImageDataset, toTensors } from "../data/image-dataset";
import { mnistCnn } from "../models/cnn";
import { accuracy, confusionMatrix, predictClasses } from "../train/evaluate";
import { train } from "../train/fit";
import { DecayedAdam } from "../train/optimizer";
import { confusionMatrixChart, historyChart } from "../viz/charts";
import { ExperimentRecord, historySeries } from "./record";
import { RunOptions } from "./session";
import { ExperimentSpec, runExperiment } from "./skeleton";

/** Settings of the MNIST experiment ("使用 Keras 的深度卷积网络示例"). */
export interface MnistSettings {
  [key: string]: unknown;
  /** Training images used (the first N of the canonical 60,000). */
  trainSamples: number;
  /** Test images used for validation and the final accuracy (the first N of 10,000). */
  testSamples: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Keras-2 learning-rate decay per iteration. */
  decay: number;
  seed: number;
}

/** The book's settings (dcn.py): 200 epochs of batch 256, Adam 1e-3 with decay 1e-5. */
export const MNIST_BOOK: MnistSettings = {
  trainSamples: 60000,
  testSamples: 10000,
  epochs: 200,
  batchSize: 256,
  learningRate: 1e-3,
  decay: 1e-5,
  seed: 1000,
};

/** The book's validation accuracy after epochs 1, 2, 3 and 200. */
export const MNIST_BOOK_ACCURACY = { 1: 0.9693, 2: 0.978, 3: 0.9839, 200: 0.995 } as Record<
  number,
  number
>;

/**
 * Settings per run mode: `default` trains one epoch
 * on 45,000 images (about 8 minutes on 2 CPU cores).
 */
export function mnistSettings(mode: RunModeName): MnistSettings {
  if (mode === "smoke") return { ...MNIST_BOOK, trainSamples: 512, testSamples: 500, epochs: 1 };
  if (mode === "default") return { ...MNIST_BOOK, trainSamples: 45000, epochs: 1 };
  return { ...MNIST_BOOK };
}

/**
 * What {@link runMnistExperiment} returns: the trained model and test data for further analysis.
 */
export interface MnistOutcome {
  model: tf.LayersModel;
  record: Omit<ExperimentRecord, "charts">;
  test: ImageDataset;
  xTest: tf.Tensor4D;
  yTest: tf.Tensor2D;
  /** Predicted class of each test image used. */
  predicted: Int32Array;
}

/**
 * Trains the book's MNIST CNN with `settings`, validating on the test images after each epoch,
 * and writes results.json plus the history and confusion-matrix charts to `run.out` when given.
 * The caller disposes `xTest` and `yTest`.
 */
export async function runMnistExperiment(
  settings: MnistSettings,
  run: RunOptions = {},
): Promise<MnistOutcome> {
  return runExperiment(mnistExperiment(settings), run);
}

/** The MNIST experiment as {@link runExperiment} runs it. */
function mnistExperiment(settings: MnistSettings) {
  const spec: ExperimentSpec<
    MnistSettings,
    { trainSet: ImageDataset; test: ImageDataset },
    { xTest: tf.Tensor4D; yTest: tf.Tensor2D },
    Omit<MnistOutcome, "model" | "record">
  > = {
    name: "mnist",
    settings,
    load: () => ({ trainSet: loadMnist("train"), test: loadMnist("test") }),
    check: ({ trainSet, test }) => {
      if (!(settings.trainSamples >= 1 && settings.trainSamples <= trainSet.count))
        throw new Error(
          `mnist: trainSamples must be 1..${trainSet.count}, got ${settings.trainSamples}`,
        );
      if (!(settings.testSamples >= 1 && settings.testSamples <= test.count))
        throw new Error(`mnist: testSamples must be 1..${test.count}, got ${settings.testSamples}`);
    },
    build: mnistCnn,
    compile: (m) =>
      m.compile({
        optimizer: new DecayedAdam(settings.learningRate, settings.decay),
        loss: "categoricalCrossentropy",
        metrics: ["accuracy"],
      }),
    train: async ({ data, prepared, run, own }) => {
      const [xTrain, yTrain] = own(toTensors(data.trainSet, 0, settings.trainSamples));
      const [xTest, yTest] = own(toTensors(data.test, 0, settings.testSamples), {
        returned: true,
      });
      const result = await prepared.training(() =>
        train(prepared.model, xTrain, yTrain, {
          epochs: settings.epochs,
          initialEpoch: prepared.initialEpoch,
          batchSize: settings.batchSize,
          validationData: [xTest, yTest],
          callbacks: prepared.callbacks,
          progress: run.progress,
          backend: run.backend,
          title: "MNIST CNN",
        }),
      );
      return { result, xTest, yTest };
    },
    evaluate: ({ xTest, yTest }, history, { data, prepared }) => {
      const { trainSet, test } = data;
      const predicted = predictClasses(prepared.model, xTest);
      const truth = test.labels.subarray(0, settings.testSamples);
      const valAcc = historySeries({ history }, "val_acc");
      const digits = Array.from({ length: 10 }, (_, i) => String(i));
      return {
        metrics: { test_accuracy: accuracy(truth, predicted), epochs: valAcc.length },
        bookEpochs: {
          values: MNIST_BOOK_ACCURACY,
          series: [{ key: "val_accuracy", values: valAcc, book: true }],
        },
        split:
          `${trainSet.source}: first ${settings.trainSamples} training ` +
          `and first ${settings.testSamples} test images`,
        charts: () => ({
          history: historyChart(history, { title: "MNIST CNN history" }),
          confusion: confusionMatrixChart(confusionMatrix(truth, predicted, 10), digits, {
            title: "MNIST confusion matrix (rows: true digit)",
          }),
        }),
        outcome: { test, xTest, yTest, predicted },
      };
    },
  };
  return spec;
}
