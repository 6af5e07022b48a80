import * as tf from "@tensorflow/tfjs";
import { RunModeName } from "../core/mode";
import { SunspotSeries, loadSunspots } from "../data/sunspots";
import { sunspotRnn } from "../models/rnn";
import { MinMaxScaler, makeWindows, windowTensors } from "../rnn/series";
import { train } from "../train/fit";
import { DecayedAdam } from "../train/optimizer";
import { historyChart, seriesWithPredictions } from "../viz/charts";
import { ExperimentRecord, RecordedWeight, recordWeights } from "./record";
import { RunOptions } from "./session";
import { ExperimentSpec, runExperiment } from "./skeleton";
import { assertInputShape, optimizerSettings, settingsWithModel } from "./architecture";
import { FusedRecurrent } from "../rnn/fused-layer";
import { SettingRules, divisors } from "./settings-check";

/**
 * Checks the split of a series of `months` months into windows: `0 < trainEnd < testEnd <=` the
 * number of windows, and, under the book's stateful protocol (whose batches are fixed), a batch
 * size that divides both the training and the test windows.
 * @throws naming the settings, and for the batch size the sizes that would fit.
 */
export function checkWindows(settings: SunspotsSettings, months: number): void {
  const { trainEnd, testEnd, batchSize, window } = settings;
  const windows = months - window;
  if (!(trainEnd > 0 && testEnd > trainEnd && testEnd <= windows))
    throw new Error(
      `sunspots: need 0 < trainEnd < testEnd <= ${windows} (the windows of ${window} months in ` +
        `${months}), got trainEnd ${trainEnd}, testEnd ${testEnd}`,
    );
  if (settings.protocol !== "book") return;
  const test = testEnd - trainEnd;
  if (trainEnd % batchSize === 0 && test % batchSize === 0) return;
  const fit = divisors(trainEnd).filter((d) => test % d === 0);
  throw new Error(
    `sunspots: batchSize ${batchSize} does not fit the book protocol: a stateful network's ` +
      `batches are fixed, so the batch size must divide both the ${trainEnd} training and the ` +
      `${test} test windows; sizes that fit: ${fit.join(", ")} (or change trainEnd/testEnd, or ` +
      'use protocol "clean")',
  );
}

/** Settings of the sunspot experiment ("Keras 中的 LSTM 网络示例"). */
export interface SunspotsSettings {
  /** The recurrent layer of the library's network (a network given to the runner has its own). */
  cell: "lstm" | "gru";
  /** Two recurrent layers (the first with returnSequences). */
  stacked: boolean;
  /**
   * `book`: MinMax scaler fitted on the whole series, stateful network fed windows in order, no
   * state resets (the original). `clean`: scaler fitted on the training part only and every
   * window starting from zero state (stateless), so no state skips months.
   */
  protocol: "book" | "clean";
  epochs: number;
  /** Units of each recurrent layer of the library's network (the book: 4). */
  units: number;
  /** Months in each input window (the book: 15). */
  window: number;
  /**
   * Windows per batch (the book: 20); with the book's stateful protocol it must divide both the
   * training and the test windows.
   */
  batchSize: number;
  /** Windows [0, trainEnd) train, [trainEnd, testEnd) test. */
  trainEnd: number;
  testEnd: number;
  learningRate: number;
  decay: number;
  seed: number;
}

/** What each sunspot setting may be (the series' bounds are checked once loaded). */
export const SUNSPOTS_RULES: SettingRules<SunspotsSettings> = {
  cell: { oneOf: ["lstm", "gru"] },
  stacked: "boolean",
  protocol: { oneOf: ["book", "clean"] },
  epochs: { whole: [1, 100000] },
  units: { whole: [1, 1024] },
  window: { whole: [1, 2000] },
  batchSize: { whole: [1, 2820] },
  trainEnd: { whole: [1, 2820] },
  testEnd: { whole: [2, 2820] },
  learningRate: { number: [1e-8, 10] },
  decay: { number: [0, 1] },
  seed: { whole: [0, 2 ** 31 - 1] },
};

/** Compiles `model` as the book does (Adam with Keras-2 decay, MSE) with `settings`' rates. */
export function compileSunspots(model: tf.LayersModel, settings: SunspotsSettings): void {
  model.compile({
    optimizer: new DecayedAdam(settings.learningRate, settings.decay),
    loss: "meanSquaredError",
  });
}

/**
 * The settings a given sunspot network decides itself: its recurrent cell, units and whether it
 * stacks two recurrent layers (fused or tfjs `lstm`/`gru` layers).
 */
export function recurrentSettings(
  model: tf.LayersModel,
): Partial<Pick<SunspotsSettings, "cell" | "units" | "stacked">> {
  const recurrent = model.layers.filter(
    (l) => l instanceof FusedRecurrent || ["LSTM", "GRU"].includes(l.getClassName()),
  );
  if (recurrent.length === 0) return {};
  const first = recurrent[0];
  const cell =
    first instanceof FusedRecurrent ? first.cell : first.getClassName() === "GRU" ? "gru" : "lstm";
  const units = Number(first.getConfig().units);
  return { cell, units, stacked: recurrent.length > 1 };
}

/** The library's network for `settings` (stateful under the book's protocol). */
function networkOf(settings: SunspotsSettings): tf.Sequential {
  return sunspotRnn({
    cell: settings.cell,
    units: settings.units,
    timesteps: settings.window,
    batchSize: settings.batchSize,
    stateful: settings.protocol === "book",
    stacked: settings.stacked,
  });
}

/** The book's settings (recurrent.py). */
export const SUNSPOTS_BOOK: SunspotsSettings = {
  cell: "lstm",
  stacked: false,
  protocol: "book",
  epochs: 100,
  units: 4,
  window: 15,
  batchSize: 20,
  trainEnd: 2300,
  testEnd: 2800,
  learningRate: 1e-3,
  decay: 1e-4,
  seed: 1000,
};

/** The book's validation MSE (scaled series) after epochs 1, 2, 3 and 100. */
export const SUNSPOTS_BOOK_MSE = { 1: 0.1827, 2: 0.1522, 3: 0.1154, 100: 0.0247 } as Record<
  number,
  number
>;

/**
 * Settings per run mode: the book's in `default` and `full` (100 epochs take about 25 s with the
 * fused recurrent layer on one CPU core), one epoch in `smoke`.
 */
export function sunspotsSettings(
  mode: RunModeName,
  variant: Partial<Pick<SunspotsSettings, "cell" | "stacked" | "protocol">> = {},
): SunspotsSettings {
  return { ...SUNSPOTS_BOOK, ...variant, epochs: mode === "smoke" ? 1 : SUNSPOTS_BOOK.epochs };
}

/**
 * The book's training log (recurrent.py's output printed in the chapter): the training and
 * validation MSE (scaled series) after epochs 1, 2, 3, 99 and 100.
 */
export const SUNSPOTS_BOOK_LOG: Record<number, { loss: number; val_loss: number }> = {
  1: { loss: 0.4905, val_loss: 0.1827 },
  2: { loss: 0.1214, val_loss: 0.1522 },
  3: { loss: 0.0796, val_loss: 0.1154 },
  99: { loss: 0.0139, val_loss: 0.0247 },
  100: { loss: 0.0139, val_loss: 0.0247 },
};

/**
 * The short protocol of notebook 09's experiment exercise: the book's protocol and settings for
 * 20 epochs (2 in smoke mode), a few seconds per network.
 */
export function sunspotsExerciseSettings(mode: RunModeName, seed = 1): SunspotsSettings {
  return { ...SUNSPOTS_BOOK, epochs: mode === "smoke" ? 2 : 20, seed };
}

/** What {@link runSunspotsExperiment} returns besides results.json. */
export interface SunspotsOutcome {
  model: tf.LayersModel;
  record: Omit<ExperimentRecord, "charts">;
  series: SunspotSeries;
  /** Month of each test target. */
  testMonths: string[];
  /** Test targets and predictions in sunspot numbers. */
  truth: Float64Array;
  predicted: Float64Array;
}

/** Short name of a variant, e.g. `lstm book` or `gru stacked clean`. */
export const variantName = (s: SunspotsSettings) =>
  `${s.cell}${s.stacked ? " stacked" : ""} ${s.protocol}`;

/**
 * Trains the sunspot forecaster with `settings` (windows of 15 months predicting the next, Adam
 * with Keras-2 decay, MSE, no shuffling in the book protocol) and reports the validation MSE on the
 * scaled series (the book's number) and the test RMSE in sunspot numbers (comparable across
 * scalers); writes results.json and the charts to `run.out` when given. `model` (default the
 * library's {@link sunspotRnn} for `settings`) is the network to train, e.g. the book's listing
 * as a notebook cell built it; compiled with {@link compileSunspots} unless it already is.
 */
export async function runSunspotsExperiment(
  settings: SunspotsSettings,
  run: RunOptions = {},
  model?: tf.LayersModel,
): Promise<SunspotsOutcome> {
  const actual = settingsWithModel("sunspots", settings, model, (m) => ({
    ...optimizerSettings(m),
    ...recurrentSettings(m),
  }));
  return runExperiment(sunspotsExperiment(actual, model), run);
}

/** The sunspot experiment as {@link runExperiment} runs it. */
function sunspotsExperiment(settings: SunspotsSettings, given?: tf.LayersModel) {
  const stateful = settings.protocol === "book";
  const spec: ExperimentSpec<
    SunspotsSettings,
    SunspotSeries,
    {
      xTest: tf.Tensor;
      scaler: MinMaxScaler;
      initialWeights?: Record<string, RecordedWeight>;
    },
    Omit<SunspotsOutcome, "model" | "record">
  > = {
    name: "sunspots",
    runName: `sunspots-${variantName(settings).replace(/ /g, "-")}`,
    experiment: `sunspots ${variantName(settings)}`,
    settings,
    rules: SUNSPOTS_RULES,
    defaults: SUNSPOTS_BOOK,
    load: loadSunspots,
    check: (series) => checkWindows(settings, series.values.length),
    build: () => networkOf(settings),
    given,
    checkModel: (m) =>
      assertInputShape("sunspots", m, [settings.window, 1], stateful ? settings.batchSize : null),
    book: () => {
      const m = networkOf(SUNSPOTS_BOOK);
      compileSunspots(m, SUNSPOTS_BOOK);
      return m;
    },
    compile: (m) => compileSunspots(m, settings),
    train: async ({ data: series, prepared, run, own }) => {
      const scaler = new MinMaxScaler([-1, 1]).fit(
        stateful ? series.values : series.values.subarray(0, settings.trainEnd + settings.window),
      );
      const windows = makeWindows(scaler.transform(series.values), settings.window);
      const { model } = prepared;
      const initialWeights = prepared.initialEpoch === 0 ? recordWeights(model) : undefined;
      const [xTrain, yTrain] = own(windowTensors(windows, 0, settings.trainEnd));
      const [xTest, yTest] = own(windowTensors(windows, settings.trainEnd, settings.testEnd));
      const result = await prepared.training(() =>
        train(model, xTrain, yTrain, {
          epochs: settings.epochs,
          initialEpoch: prepared.initialEpoch,
          batchSize: settings.batchSize,
          validationData: [xTest, yTest],
          shuffle: !stateful,
          callbacks: prepared.callbacks,
          progress: run.progress,
          backend: run.backend,
          title: `Sunspots ${variantName(settings)}`,
        }),
      );
      return { result, xTest, scaler, initialWeights };
    },
    evaluate: ({ result, xTest, scaler, initialWeights }, history, { data: series, prepared }) => {
      const scaled = tf.tidy(() =>
        (prepared.model.predict(xTest, { batchSize: settings.batchSize }) as tf.Tensor).dataSync(),
      );
      const predicted = scaler.inverse(scaled);
      const truth = series.values.slice(
        settings.trainEnd + settings.window,
        settings.testEnd + settings.window,
      );
      const testMonths = series.months.slice(
        settings.trainEnd + settings.window,
        settings.testEnd + settings.window,
      );
      const valLoss = history.val_loss ?? [];
      const seconds = result.epochSeconds;
      const isBook = stateful && settings.cell === "lstm" && !settings.stacked;
      const { months } = series;
      const scaledOn = stateful ? "the whole series" : "the training part";
      return {
        metrics: {
          val_mse: valLoss[valLoss.length - 1],
          test_rmse_sunspots: Math.sqrt(
            truth.reduce((s, v, i) => s + (v - predicted[i]) ** 2, 0) / truth.length,
          ),
          epochs: valLoss.length,
          seconds_per_epoch: seconds.reduce((a, b) => a + b, 0) / Math.max(1, seconds.length),
        },
        book: isBook ? { val_mse: SUNSPOTS_BOOK_MSE[100] } : undefined,
        bookEpochs: isBook
          ? {
              values: SUNSPOTS_BOOK_MSE,
              series: [{ key: "val_mse", values: valLoss, book: true }],
            }
          : undefined,
        split:
          `R datasets::sunspots (${series.values.length} months ` +
          `${months[0]}..${months[months.length - 1]}); windows of ${settings.window}: ` +
          `train [0, ${settings.trainEnd}), test [${settings.trainEnd}, ${settings.testEnd}); ` +
          `scaler fitted on ${scaledOn}`,
        extra: initialWeights ? { initialWeights } : undefined,
        charts: () => ({
          history: historyChart(history, {
            title: `Sunspots ${variantName(settings)}: MSE per epoch`,
          }),
          forecast: seriesWithPredictions(
            truth,
            { predicted },
            {
              title:
                `Test months ${testMonths[0]}..${testMonths[testMonths.length - 1]}: ` +
                "observed and predicted",
              xTitle: "test month",
              yTitle: "sunspot number",
            },
          ),
        }),
        outcome: { series, testMonths, truth, predicted },
      };
    },
  };
  return spec;
}
