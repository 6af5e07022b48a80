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

/** Settings of the sunspot experiment ("Keras 中的 LSTM 网络示例"). */
export interface SunspotsSettings {
  [key: string]: unknown;
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
  units: number;
  window: number;
  batchSize: number;
  /** Windows [0, trainEnd) train, [trainEnd, testEnd) test. */
  trainEnd: number;
  testEnd: number;
  learningRate: number;
  decay: number;
  seed: number;
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
 * scalers); writes results.json and the charts to `run.out` when given.
 */
export async function runSunspotsExperiment(
  settings: SunspotsSettings,
  run: RunOptions = {},
): Promise<SunspotsOutcome> {
  return runExperiment(sunspotsExperiment(settings), run);
}

/** The sunspot experiment as {@link runExperiment} runs it. */
function sunspotsExperiment(settings: SunspotsSettings) {
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
    load: loadSunspots,
    check: (series) => {
      const windows0 = series.values.length - settings.window;
      if (!(
        settings.trainEnd % settings.batchSize === 0 &&
        (settings.testEnd - settings.trainEnd) % settings.batchSize === 0
      )) {
        throw new Error(
          `sunspots: trainEnd ${settings.trainEnd} and the test size ` +
            `${settings.testEnd - settings.trainEnd} must be multiples of the batch size ` +
            `${settings.batchSize} (stateful batches are fixed)`,
        );
      }
      if (!(
        settings.trainEnd > 0 &&
        settings.testEnd > settings.trainEnd &&
        settings.testEnd <= windows0
      ))
        throw new Error(`sunspots: need 0 < trainEnd < testEnd <= ${windows0}`);
    },
    build: () =>
      sunspotRnn({
        cell: settings.cell,
        units: settings.units,
        timesteps: settings.window,
        batchSize: settings.batchSize,
        stateful,
        stacked: settings.stacked,
      }),
    compile: (m) =>
      m.compile({
        optimizer: new DecayedAdam(settings.learningRate, settings.decay),
        loss: "meanSquaredError",
      }),
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
