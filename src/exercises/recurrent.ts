import * as tf from "@tensorflow/tfjs";
import { fashionCnn } from "../models/cnn";
import { sunspotRnn } from "../models/rnn";
import { scaledOrthogonal } from "../rnn/linalg";
import { gradientNormThroughTime } from "../rnn/simple";
import { continuousOrder } from "../rnn/series";
import { checkExercise } from "../notebook/exercise";
import { RunModeName } from "../core/mode";
import { layerDifferences } from "../experiments/architecture";
import {
  SUNSPOTS_BOOK,
  SunspotsSettings,
  runSunspotsExperiment,
  sunspotsExerciseSettings,
} from "../experiments/sunspots";
import { SeedSpread, reportExperiment } from "./compare";

/** Checks of the exercises of notebooks 06–09; each recomputes the truth itself. */

/** Parameters of a model built only to count them (then freed). */
export function countParams(build: () => tf.LayersModel): number {
  const model = build();
  const n = model.countParams();
  model.dispose();
  return n;
}

/** 06 · 1: the book's shear_range = π/12 radians, in degrees. */
export function checkShearDegrees(degrees: number): void {
  checkExercise(
    "Exercise 1",
    Math.abs(degrees - (180 / Math.PI) * (Math.PI / 12)) < 1e-9,
    "π radians = 180°.",
  );
}

/** 06 · 2: the class name of the layers whose parameters the optimizer does not train. */
export function checkNonTrainableLayerType(className: string): void {
  const model = fashionCnn();
  const types = model.layers
    .filter((l) => l.nonTrainableWeights.length > 0)
    .map((l) => l.getClassName());
  model.dispose();
  checkExercise(
    "Exercise 2",
    types.length > 0 && types.every((t) => t === className),
    "look at which layers keep moving averages " +
      "(model.layers.map((l) => [l.getClassName(), l.nonTrainableWeights.length])).",
  );
}

/** 06 · 3: how far BatchNorm moving averages (momentum 0.99) have moved after 20 steps. */
export function checkMovingAverageFraction(fraction: number): void {
  checkExercise(
    "Exercise 3",
    Math.abs(fraction - (1 - 0.99 ** 20)) < 1e-3,
    "each step keeps 99% of the old value: after t steps 0.99^t of the initial value remains.",
  );
}

/** 07 · 1: the spectral radius that keeps a linear RNN's gradient norm constant. */
export function checkNeutralRadius(radius: number): void {
  const p = {
    W: { rows: 4, cols: 1, data: new Float64Array(4) },
    U: scaledOrthogonal(4, radius, 3),
    b: new Float64Array(4),
    V: { rows: 1, cols: 4, data: new Float64Array(4) },
    c: new Float64Array(1),
    activation: "linear" as const,
  };
  const norms = gradientNormThroughTime(
    p,
    Array.from({ length: 30 }, () => new Float64Array(1)),
  );
  checkExercise(
    "Exercise 1",
    Math.abs(norms[29] - 1) < 1e-9,
    `with ρ = ${radius} the norm after 30 steps is ${norms[29].toPrecision(3)}; it is ρ^t.`,
  );
}

/** 07 · 2: the smallest truncation k₂ that lets TBPTT learn an echo of delay `delay`. */
export function checkSmallestK2(k2: number, delay = 6): void {
  checkExercise(
    "Exercise 2",
    k2 === delay + 1,
    "rnnBptt walks back k2 steps including the step of the error itself.",
  );
}

/** 07 · 3: the smallest t with 0.9^t < 0.01. */
export function checkStepsToOnePercent(t: number): void {
  const truth = Math.ceil(Math.log(0.01) / Math.log(0.9));
  checkExercise("Exercise 3", t === truth, "solve 0.9^t = 0.01 with logarithms.");
}

/** 08 · 1: the parameters of a tfjs GRU(16) on 2 input channels. */
export function checkGruParams(count: number): void {
  const truth = countParams(() =>
    tf.sequential({ layers: [tf.layers.gru({ units: 16, inputShape: [30, 2] })] }),
  );
  checkExercise("Exercise 1", count === truth, "3 · (2·16 + 16·16 + 16).");
}

/** 08 · 2: the parameters diagonal peepholes add to an LSTM with 16 units. */
export function checkPeepholeParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === 3 * 16,
    "input, forget and output gate each get a vector of 16.",
  );
}

/** 08 · 3: two stacked LSTM(16) layers on `[30, 2]` and a Dense(1). */
export function checkStackedLstm(model: tf.LayersModel): void {
  const lstms = model.layers.filter((l) => l.getClassName() === "LSTM");
  checkExercise(
    "Exercise 3",
    lstms.length === 2 &&
      Boolean(lstms[0].getConfig().returnSequences) &&
      model.outputs[0].shape.length === 2 &&
      model.outputs[0].shape[1] === 1,
    "tf.layers.lstm({ units: 16, returnSequences: true, inputShape: [30, 2] }), " +
      "then tf.layers.lstm({ units: 16 }), then the Dense.",
  );
}

/**
 * 09 · 1: months the carried state skips with stateful batches of 25 consecutive 15-month windows.
 */
export function checkSkippedMonths(months: number): void {
  checkExercise(
    "Exercise 1",
    months === 25 - 15,
    "slot i moves by the batch size; the window covers 15 months.",
  );
}

/** 09 · 2: the parameters of the sunspot network with a GRU(4) in tfjs. */
export function checkSunspotGruParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === countParams(() => sunspotRnn({ cell: "gru" })),
    "a GRU computes 2 gates and a candidate state, each with a kernel (inputs × units), a recurrent kernel (units × " +
      "units) and a bias (units); add the Dense(1) layer on the GRU's outputs.",
  );
}

/** 09 · 3: the training windows the state-correct batching uses out of 2,300. */
export function checkContinuousWindows(count: number): void {
  checkExercise(
    "Exercise 3",
    count === continuousOrder(2300, 15, 20).length,
    "count the windows in continuousOrder(2300, 15, 20): " +
      "20 streams of ⌊(streamLength − 1)/15⌋ windows.",
  );
}

/** 10 · 1: the property that freezes a layer or model. */
export function checkFreezeFlag(name: string): void {
  checkExercise(
    "Exercise 1",
    name === "trainable",
    "set it to false before compiling: base.trainable = false.",
  );
}

/** 10 · 2: the parameters of withHead's head on 576 features and 5 classes. */
export function checkHeadParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === 576 * 64 + 64 + 64 * 5 + 5,
    "Dense(64) on 576 inputs: 576·64 + 64; Dropout has none; Dense(5): 64·5 + 5.",
  );
}

/** Seed spread of notebook 09's exercise protocol, measured by `npm run exercise-spread`. */
export const SUNSPOTS_EXERCISE_SPREAD: Record<"smoke" | "default", SeedSpread> = {
  // validation MSE, seeds 1-5: 0.0942 0.1022 0.0996 0.0867 0.0551
  smoke: { sd: 0.019, mean: 0.08759, seeds: 5, backend: "tensorflow" },
  // validation MSE, seeds 1-5: 0.0333 0.0276 0.0287 0.0271 0.0255
  default: { sd: 0.0029, mean: 0.02843, seeds: 5, backend: "tensorflow" },
};

/**
 * Trains `model` (the library's book network when none) under sunspot settings `settings` and
 * returns the final validation MSE; a model built here is disposed.
 */
export async function exerciseValMse(
  settings: SunspotsSettings,
  model?: tf.LayersModel,
): Promise<number> {
  const outcome = await runSunspotsExperiment(settings, { progress: false }, model);
  if (!model) {
    outcome.model.optimizer?.dispose();
    outcome.model.dispose();
  }
  return outcome.record.metrics.val_mse;
}

/**
 * 09 · 4, an experiment: `variant` is the reader's change of the book's listing (more units, a
 * GRU, a second layer, ...), which must still take the book's stateful batches of 20 windows of
 * 15 months; it is trained beside the book's network under the exercise protocol
 * ({@link sunspotsExerciseSettings}: the book's protocol, fewer epochs, the same seed) and the
 * two validation MSEs are compared with the seed spread.
 */
export async function architectureExperiment(
  variant: tf.LayersModel | undefined,
  mode: RunModeName,
): Promise<void> {
  const name = "Exercise 4";
  if (!variant) {
    checkExercise(
      name,
      false,
      "build your network in this cell (start from a copy of the listing) and assign it to " +
        "myNetwork; the check then trains it beside the book's.",
    );
    return;
  }
  const reference = sunspotRnn();
  const differences = layerDifferences(variant, reference);
  reference.dispose();
  if (differences.length === 0) {
    checkExercise(name, false, "this is the book's network: change something in it first.");
    return;
  }
  const settings = sunspotsExerciseSettings(mode);
  const shape = variant.inputs[0].shape;
  const wanted = [SUNSPOTS_BOOK.batchSize, SUNSPOTS_BOOK.window, 1];
  if (shape.some((d, i) => d !== wanted[i])) {
    checkExercise(
      name,
      false,
      `your network takes batches of shape ${JSON.stringify(shape)}; the book's stateful ` +
        `protocol feeds ${JSON.stringify(wanted)} (batchInputShape).`,
    );
    return;
  }
  console.log("Training the book's network, then yours, under the same protocol ...");
  const book = await exerciseValMse(settings);
  const yours = await exerciseValMse(settings, variant);
  reportExperiment({
    exercise: name,
    metric: "validation MSE",
    higherIsBetter: false,
    protocol: `the book's protocol for ${settings.epochs} epochs, seed ${settings.seed}`,
    yours,
    book,
    spread: SUNSPOTS_EXERCISE_SPREAD[mode === "smoke" ? "smoke" : "default"],
    mode,
  });
}
