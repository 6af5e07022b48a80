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
import type { ClassifierLog } from "./reference-runs";
import { assertInputShape, optimizerSettings, settingsWithModel } from "./architecture";
import { SettingRules } from "./settings-check";

/** What each MNIST setting may be (the data's bounds are checked once loaded). */
export const MNIST_RULES: SettingRules<MnistSettings> = {
  trainSamples: { whole: [1, 60000] },
  testSamples: { whole: [1, 10000] },
  epochs: { whole: [1, 10000] },
  batchSize: { whole: [1, 60000] },
  learningRate: { number: [1e-8, 10] },
  decay: { number: [0, 1] },
  seed: { whole: [0, 2 ** 31 - 1] },
};

/** Compiles `model` as the book does, with the learning rate and decay of `settings`. */
export function compileMnist(model: tf.LayersModel, settings: MnistSettings): void {
  model.compile({
    optimizer: new DecayedAdam(settings.learningRate, settings.decay),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
}

/** Settings of the MNIST experiment ("使用 Keras 的深度卷积网络示例"). */
export interface MnistSettings {
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
 * The book's training log (dcn.py's output printed in the chapter): loss and accuracy on the
 * training batches and on the test set after epochs 1, 2, 3, 199 and 200.
 */
export const MNIST_BOOK_LOG: ClassifierLog = {
  1: { loss: 0.4474, acc: 0.8531, val_loss: 0.0993, val_acc: 0.9693 },
  2: { loss: 0.1497, acc: 0.953, val_loss: 0.0682, val_acc: 0.978 },
  3: { loss: 0.1131, acc: 0.9647, val_loss: 0.0598, val_acc: 0.9839 },
  199: { loss: 0.0083, acc: 0.9974, val_loss: 0.0137, val_acc: 0.995 },
  200: { loss: 0.0083, acc: 0.9972, val_loss: 0.0143, val_acc: 0.995 },
};

/**
 * The short protocol of notebook 05's experiment exercise: the book's settings on the first 6,000
 * training and 2,000 test images for one epoch (256 and 200 images in smoke mode), so that the
 * book's network and a variant train in about a minute each on 2 CPU cores.
 */
export function mnistExerciseSettings(mode: RunModeName, seed = 1): MnistSettings {
  const small = mode === "smoke";
  return {
    ...MNIST_BOOK,
    trainSamples: small ? 256 : 6000,
    testSamples: small ? 200 : 2000,
    epochs: 1,
    seed,
  };
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
 * Trains `model` (default: the book's MNIST CNN, {@link mnistCnn}, compiled with
 * {@link compileMnist}) with `settings`, validating on the test images after each epoch, and
 * writes results.json (with the network's summary and how it differs from the book's) plus the
 * history and confusion-matrix charts to `run.out` when given. A `model` already compiled keeps
 * its optimizer; one that is not is compiled with {@link compileMnist}. The caller disposes
 * `xTest` and `yTest`.
 */
export async function runMnistExperiment(
  settings: MnistSettings,
  run: RunOptions = {},
  model?: tf.LayersModel,
): Promise<MnistOutcome> {
  const actual = settingsWithModel("mnist", settings, model, optimizerSettings);
  return runExperiment(mnistExperiment(actual, model), run);
}

/** The MNIST experiment as {@link runExperiment} runs it. */
function mnistExperiment(settings: MnistSettings, given?: tf.LayersModel) {
  const spec: ExperimentSpec<
    MnistSettings,
    { trainSet: ImageDataset; test: ImageDataset },
    { xTest: tf.Tensor4D; yTest: tf.Tensor2D },
    Omit<MnistOutcome, "model" | "record">
  > = {
    name: "mnist",
    settings,
    rules: MNIST_RULES,
    defaults: MNIST_BOOK,
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
    given,
    checkModel: (m) => assertInputShape("mnist", m, [28, 28, 1]),
    book: () => {
      const m = mnistCnn();
      compileMnist(m, MNIST_BOOK);
      return m;
    },
    compile: (m) => compileMnist(m, settings),
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
