import * as tf from "@tensorflow/tfjs";
import { RunModeName } from "../core/mode";
import { currentBackend } from "../backend/init";
import { ImageDataGenerator, ImageDataGeneratorOptions } from "../augment/generator";
import { FASHION_CLASSES, FashionMnist, loadFashionMnist } from "../data/fashion";
import { toTensors } from "../data/mnist";
import { fashionCnn } from "../models/cnn";
import { recalibrateBatchNorm } from "../train/batchnorm";
import { accuracy, confusionMatrix, predictClasses } from "../train/evaluate";
import { trainOnDataset } from "../train/fit";
import { DecayedAdam, setLearningRate } from "../train/optimizer";
import { ReduceLROnPlateau } from "../train/plateau";
import { barChart, confusionMatrixChart, historyChart, lineChart } from "../viz/charts";
import { ExperimentRecord, historySeries, versions, writeRecord, timingsOf } from "./record";
import { RunOptions, mergeHistory, preflightRun, prepareRun } from "./session";

/**
 * Settings of the Fashion-MNIST experiment ("使用
 * Keras 和数据增强的深度卷积网络的示例").
 */
export interface FashionSettings {
  [key: string]: unknown;
  epochs: number;
  /** Augmented batches per epoch (the book: 1,500). */
  batchesPerEpoch: number;
  batchSize: number;
  /** Test images used for validation and the final accuracies (the first N of 10,000). */
  testSamples: number;
  learningRate: number;
  decay: number;
  /**
   * Training images whose statistics replace the BatchNorm
   * moving averages before the final evaluation (0: keep them).
   */
  calibrationSamples: number;
  seed: number;
}

/**
 * The book's settings (dcn_da.py): 100 epochs x 1,500 batches of 256, Adam 1e-4 with decay 1e-5.
 */
export const FASHION_BOOK: FashionSettings = {
  epochs: 100,
  batchesPerEpoch: 1500,
  batchSize: 256,
  testSamples: 10000,
  learningRate: 1e-4,
  decay: 1e-5,
  calibrationSamples: 2048,
  seed: 1000,
};

/** The book's validation accuracy (on augmented test images) after epochs 1, 2, 3 and 100. */
export const FASHION_BOOK_ACCURACY = { 1: 0.8952, 2: 0.899, 3: 0.9112, 100: 0.9339 } as Record<
  number,
  number
>;

/**
 * The book's augmentation: ImageDataGenerator(rescale 1/255, samplewise
 * centre/std, flips, ±10°, shear π/12 rad = 15°, zoom 0.25).
 */
export function bookAugmentation(seed = 1000): ImageDataGeneratorOptions {
  return {
    ...standardization(),
    horizontalFlip: true,
    rotationRange: 10,
    shearRange: 15,
    zoomRange: 0.25,
    seed,
  };
}

/** The book's test generator: rescale and per-image standardisation only. */
export function standardization(): ImageDataGeneratorOptions {
  return { rescale: 1 / 255, samplewiseCenter: true, samplewiseStdNormalization: true };
}

/**
 * Settings per run mode: `default` trains 2 epochs of
 * 10 batches of 256 (about 8 minutes on 2 CPU cores).
 */
export function fashionSettings(mode: RunModeName): FashionSettings {
  if (mode === "smoke")
    return {
      ...FASHION_BOOK,
      epochs: 1,
      batchesPerEpoch: 2,
      batchSize: 32,
      testSamples: 200,
      calibrationSamples: 128,
    };
  if (mode === "default")
    return {
      ...FASHION_BOOK,
      epochs: 2,
      batchesPerEpoch: 10,
      testSamples: 1000,
      calibrationSamples: 1024,
    };
  return { ...FASHION_BOOK };
}

/** What {@link runFashionExperiment} returns besides results.json. */
export interface FashionOutcome {
  model: tf.LayersModel;
  record: Omit<ExperimentRecord, "charts">;
  data: FashionMnist;
  /** Learning rate used in each epoch (ReduceLROnPlateau's record). */
  learningRates: number[];
  /** Predicted classes of the clean test images after recalibration. */
  predicted: Int32Array;
  /** Accuracy per class on the clean test images. */
  perClass: number[];
}

/**
 * Adds `val_acc_augmented` to every epoch's logs (and so to the history): the accuracy on the test
 * images sent through the training augmentation, freshly drawn each epoch, with the BatchNorm
 * moving averages as trained. That is what the book's script reported as validation accuracy
 * (its test generator was built from the training generator).
 */
class AugmentedValidation extends tf.Callback {
  constructor(
    private readonly images: tf.Tensor4D,
    private readonly truth: ArrayLike<number>,
    private readonly seed: number,
  ) {
    super();
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const augmented = tf.tidy(() =>
      new ImageDataGenerator(bookAugmentation(this.seed + epoch)).randomTransform(
        tf.mul(this.images, 255) as tf.Tensor4D,
      ),
    );
    try {
      if (logs)
        logs.val_acc_augmented = accuracy(
          this.truth,
          predictClasses(this.model as unknown as tf.LayersModel, augmented),
        );
    } finally {
      augmented.dispose();
    }
  }
}

/**
 * Trains the book's Fashion-MNIST CNN on augmented batches with ReduceLROnPlateau, validating on
 * clean (standardised) test images, then evaluates on the clean test images and under the book's
 * protocol (the same images through the training augmentation), with the BatchNorm moving
 * averages as trained and after recalibration; writes results.json and the charts to `run.out`.
 */
export async function runFashionExperiment(
  settings: FashionSettings,
  run: RunOptions = {},
): Promise<FashionOutcome> {
  preflightRun(run, "fashion");
  const data = loadFashionMnist({ seed: settings.seed });
  if (!(settings.testSamples >= 1 && settings.testSamples <= data.test.count))
    throw new Error(
      `fashion: testSamples must be 1..${data.test.count}, got ${settings.testSamples}`,
    );
  if (!(settings.calibrationSamples >= 0 && settings.calibrationSamples <= data.train.count))
    throw new Error(
      `fashion: calibrationSamples must be 0..${data.train.count}, ` +
        `got ${settings.calibrationSamples}`,
    );
  const prepared = await prepareRun(
    "fashion",
    settings,
    run,
    () => fashionCnn(),
    (m) =>
      m.compile({
        optimizer: new DecayedAdam(settings.learningRate, settings.decay),
        loss: "categoricalCrossentropy",
        metrics: ["accuracy"],
      }),
  );
  const { model } = prepared;
  const resumedLr = prepared.previousHistory.lr;
  if (resumedLr?.length) setLearningRate(model.optimizer, resumedLr[resumedLr.length - 1]);
  const plain = new ImageDataGenerator(standardization());
  const standardized = (set: typeof data.test, n: number) =>
    tf.tidy(() => {
      const [x, y] = toTensors(set, 0, n);
      return [plain.standardize(tf.mul(x, 255) as tf.Tensor4D), y] as [tf.Tensor4D, tf.Tensor2D];
    });
  const [xVal, yVal] = standardized(data.test, settings.testSamples);
  const truth = data.test.labels.subarray(0, settings.testSamples);
  const [xTestRaw] = toTensors(data.test, 0, settings.testSamples);
  const plateau = new ReduceLROnPlateau({
    monitor: "val_loss",
    factor: 0.1,
    patience: 1,
    cooldown: 1,
    minLr: 1e-6,
  });
  try {
    const augmenter = new ImageDataGenerator(
      bookAugmentation(settings.seed + prepared.initialEpoch),
    );
    const flow = augmenter.flow(data.train.images, data.train.labels, data.train, {
      batchSize: settings.batchSize,
    });
    const result = await prepared.training(() =>
      trainOnDataset(model, flow as unknown as tf.data.Dataset<tf.TensorContainer>, {
        epochs: settings.epochs,
        initialEpoch: prepared.initialEpoch,
        batchesPerEpoch: settings.batchesPerEpoch,
        batchSize: settings.batchSize,
        validationData: [xVal, yVal],
        callbacks: [
          new AugmentedValidation(xTestRaw, truth, 7 + prepared.initialEpoch),
          plateau,
          ...prepared.callbacks,
        ],
        progress: run.progress,
        title: "Fashion-MNIST CNN",
      }),
    );
    const history = mergeHistory(prepared.previousHistory, result.history);
    const augmentedTest = tf.tidy(() =>
      new ImageDataGenerator(bookAugmentation(7)).randomTransform(
        tf.mul(xTestRaw, 255) as tf.Tensor4D,
      ),
    );
    const metrics: Record<string, number> = {
      test_accuracy_moving_stats: accuracy(truth, predictClasses(model, xVal)),
    };
    if (settings.calibrationSamples > 0) {
      const [xCal] = standardized(data.train, settings.calibrationSamples);
      recalibrateBatchNorm(model, xCal);
      xCal.dispose();
    }
    const predicted = predictClasses(model, xVal);
    metrics.test_accuracy_clean = accuracy(truth, predicted);
    metrics.test_accuracy_augmented = accuracy(truth, predictClasses(model, augmentedTest));
    augmentedTest.dispose();
    const valAcc = historySeries({ history }, "val_acc");
    const valAugmented = historySeries({ history }, "val_acc_augmented");
    metrics.epochs = valAcc.length;
    const book: Record<string, number> = { test_accuracy_augmented: FASHION_BOOK_ACCURACY[100] };
    for (const [epoch, value] of Object.entries(FASHION_BOOK_ACCURACY)) {
      book[`val_accuracy_augmented_epoch_${epoch}`] = value;
      const e = Number(epoch);
      if (valAcc.length >= e) metrics[`val_accuracy_epoch_${e}`] = valAcc[e - 1];
      if (valAugmented.length >= e)
        metrics[`val_accuracy_augmented_epoch_${e}`] = valAugmented[e - 1];
    }
    const perClass = FASHION_CLASSES.map((_, c) => {
      const idx = Array.from(truth.keys()).filter((i) => truth[i] === c);
      return idx.length ? idx.filter((i) => predicted[i] === c).length / idx.length : 0;
    });
    const learningRates = history.lr ?? plateau.history;
    const record: Omit<ExperimentRecord, "charts"> = {
      experiment: "fashion",
      mode: run.mode ?? "cli",
      settings,
      seed: settings.seed,
      backend: currentBackend()?.line ?? tf.getBackend(),
      date: new Date().toISOString(),
      versions: versions(),
      split: `${data.split}; first ${settings.testSamples} test images`,
      metrics,
      book,
      history: { ...history, lr: learningRates },
      timings: timingsOf(result),
    };
    if (run.out) {
      await writeRecord(
        run.out,
        record,
        {
          history: historyChart(history, {
            title: "Fashion-MNIST CNN history",
            metrics: ["loss", "acc", "accuracy"].filter((k) => k in history),
          }),
          learning_rate: lineChart(
            learningRates.map((_, e) => e + 1),
            { "learning rate": learningRates },
            {
              title: "Learning rate per epoch (ReduceLROnPlateau)",
              xTitle: "epoch",
              yTitle: "learning rate",
              logY: true,
            },
          ),
          per_class: barChart(FASHION_CLASSES, perClass, {
            title: "Accuracy per class (clean test images)",
            yTitle: "accuracy",
          }),
          confusion: confusionMatrixChart(confusionMatrix(truth, predicted, 10), FASHION_CLASSES, {
            title: "Fashion-MNIST confusion matrix (rows: true class)",
          }),
        },
        { charts: run.charts },
      );
    }
    return { model, record, data, learningRates, predicted, perClass };
  } finally {
    tf.dispose([xVal, yVal, xTestRaw]);
    prepared.finish();
  }
}
