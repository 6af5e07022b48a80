import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { loadMnist } from "../data/mnist";
import { fashionCnn } from "../models/cnn";
import { sunspotRnn } from "../models/rnn";
import { scaledOrthogonal } from "../rnn/linalg";
import { gradientNormThroughTime } from "../rnn/simple";
import { continuousOrder } from "../rnn/series";
import { checkExercise } from "../notebook/exercise";
import { addingProblem } from "../data/sequences";
import { seedGlobalRandom } from "../core/random";
import { train } from "../train/fit";
import { RunModeName } from "../core/mode";
import { differencesFrom } from "../experiments/architecture";
import {
  SUNSPOTS_BOOK,
  SunspotsSettings,
  runSunspotsExperiment,
  sunspotsExerciseSettings,
} from "../experiments/sunspots";
import { SeedSpread, scoreRun, spreadOf, variantExperiment } from "./compare";
import { ImageDataset } from "../data/image-dataset";
import { selectClasses } from "../data/subsets";
import { convBase, withHead } from "../models/transfer";
import { fitAndScore } from "../experiments/transfer";
import { fileHandler } from "../train/file-io";
import {
  fashionExerciseSettings,
  FashionSettings,
  runFashionExperiment,
} from "../experiments/fashion";

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
    degrees !== 0,
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
    className !== "",
  );
}

/**
 * 06 · 3: the fewest training steps after which BatchNorm moving averages of momentum 0.99 have
 * moved at least 99% of the way from their initial values (counted step by step here).
 */
export function checkStepsTo99(steps: number): void {
  let t = 0,
    remaining = 1;
  while (remaining > 0.01) {
    remaining *= 0.99;
    t++;
  }
  checkExercise(
    "Exercise 3",
    steps === t,
    "each step keeps 99% of the old value, so after t steps 0.99^t of the initial value " +
      "remains: find the smallest t with 0.99^t ≤ 0.01 (logarithms, or a loop).",
    steps !== 0,
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
    radius !== 0,
  );
}

/** 07 · 2: the smallest truncation k₂ that lets TBPTT learn an echo of delay `delay`. */
export function checkSmallestK2(k2: number, delay = 6): void {
  checkExercise(
    "Exercise 2",
    k2 === delay + 1,
    "rnnBptt walks back k2 steps including the step of the error itself.",
    k2 !== 0,
  );
}

/** 07 · 3: the smallest t with 0.9^t < 0.01. */
export function checkStepsToOnePercent(t: number): void {
  const truth = Math.ceil(Math.log(0.01) / Math.log(0.9));
  checkExercise("Exercise 3", t === truth, "solve 0.9^t = 0.01 with logarithms.", t !== 0);
}

/** 08 · 1: the parameters of a tfjs GRU(16) on 2 input channels. */
export function checkGruParams(count: number): void {
  const truth = countParams(() =>
    tf.sequential({ layers: [tf.layers.gru({ units: 16, inputShape: [30, 2] })] }),
  );
  checkExercise(
    "Exercise 1",
    count === truth,
    "a GRU has three blocks (two gates and the candidate state), each with an input kernel " +
      "(inputs × units), a recurrent kernel (units × units) and a bias (units).",
    count !== 0,
  );
}

/** 08 · 2: the parameters diagonal peepholes add to an LSTM with 16 units. */
export function checkPeepholeParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === 3 * 16,
    "input, forget and output gate each get a vector of 16.",
    count !== 0,
  );
}

/** The adding-problem protocol of notebook 08's experiment exercise (sequences of 30 steps). */
export function addingExerciseSettings(mode: RunModeName, seed = 1) {
  return { sequences: mode === "smoke" ? 100 : 2000, epochs: mode === "smoke" ? 1 : 10, seed };
}

/** Seed spread of notebook 08's exercise protocol, measured by `npm run exercise-spread`. */
export const ADDING_EXERCISE_SPREAD: Record<"smoke" | "default", SeedSpread> = {
  // log10 of the validation MSE; MSEs of seeds 1-5: 0.4996 0.1663 0.4982 0.6972 0.6896
  smoke: { sd: 0.26, mean: -0.3402, seeds: 5, backend: "tensorflow" },
  // log10 of the validation MSE; MSEs of seeds 1-5: 0.0092 0.0057 0.0042 0.0018 0.0041
  default: { sd: 0.26, mean: -2.358, seeds: 5, backend: "tensorflow" },
};

/** Notebook 08's LSTM for the adding problem: LSTM(16) with the forget gate open, Dense(1). */
export function addingLstm(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.lstm({ units: 16, inputShape: [30, 2], unitForgetBias: true }),
      tf.layers.dense({ units: 1 }),
    ],
  });
}

/**
 * Trains `model` (notebook 08's LSTM when none, then freed) on the adding problem under
 * `settings` (Adam 1e-2 and MSE unless compiled; seeded) and returns the final validation MSE on
 * 500 other sequences.
 */
export async function exerciseAddingMse(
  settings: ReturnType<typeof addingExerciseSettings>,
  model?: tf.LayersModel,
): Promise<number> {
  const [x, y] = addingProblem(settings.sequences, 30, 1),
    [xVal, yVal] = addingProblem(500, 30, 2);
  const restore = seedGlobalRandom(settings.seed);
  let net: tf.LayersModel | undefined;
  try {
    net = model ?? addingLstm(); // the notebook's LSTM starts from the seed's weights
    if (!net.optimizer) net.compile({ optimizer: tf.train.adam(1e-2), loss: "meanSquaredError" });
    const r = await train(net, x, y, {
      epochs: settings.epochs,
      batchSize: 32,
      validationData: [xVal, yVal],
      progress: false,
    });
    const val = r.history.val_loss;
    return val[val.length - 1];
  } finally {
    restore();
    tf.dispose([x, y, xVal, yVal]);
    if (!model && net) {
      net.optimizer?.dispose();
      net.dispose();
    }
  }
}

/**
 * 08 · 3, an experiment: `model` must stack two LSTM layers (the first returning its sequence)
 * on inputs [30, 2] under a Dense(1); it is trained beside notebook 08's single LSTM(16) on the
 * adding problem ({@link addingExerciseSettings}) and the validation MSEs are compared.
 */
export async function stackedLstmExperiment(
  model: tf.LayersModel | undefined,
  mode: RunModeName,
): Promise<void> {
  const settings = addingExerciseSettings(mode);
  await variantExperiment({
    exercise: "Exercise 3",
    baseline: "the notebook's LSTM(16)",
    variant: model,
    unsolvedHint: "build your stacked network and assign it to stacked.",
    problem: (m) => {
      const lstms = m.layers.filter((l) => l.getClassName() === "LSTM");
      const input = JSON.stringify(m.inputs[0].shape),
        output = JSON.stringify(m.outputs[0].shape);
      if (lstms.length !== 2) return `your network has ${lstms.length} LSTM layer(s); stack two.`;
      if (!lstms[0].getConfig().returnSequences)
        return "the second LSTM needs a sequence as input: what must the first one return?";
      if (input !== "[null,30,2]") return `your network takes ${input}; the data are [30, 2].`;
      if (output !== "[null,1]") return `your network outputs ${output}; the target is one number.`;
      return undefined;
    },
    protocol:
      `${settings.sequences.toLocaleString("en-US")} sequences of 30 steps, ` +
      `${settings.epochs} epoch(s), seed ${settings.seed}`,
    metric: "log10 validation MSE",
    higherIsBetter: false,
    // MSEs near 0 differ by factors, not by amounts: compared on a log scale
    score: async (m) => Math.log10(await exerciseAddingMse(settings, m)),
    spread: spreadOf(ADDING_EXERCISE_SPREAD, mode),
    mode,
  });
}

/**
 * 09 · 1: months the carried state skips with stateful batches of 25 consecutive 15-month windows.
 */
export function checkSkippedMonths(months: number): void {
  checkExercise(
    "Exercise 1",
    months === 25 - 15,
    "slot i moves by the batch size; the window covers 15 months.",
    months !== 0,
  );
}

/** 09 · 2: the parameters of the sunspot network with a GRU(4) in tfjs. */
export function checkSunspotGruParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === countParams(() => sunspotRnn({ cell: "gru" })),
    "a GRU computes 2 gates and a candidate state, each with a kernel (inputs × units), a recurrent kernel (units × " +
      "units) and a bias (units); add the Dense(1) layer on the GRU's outputs.",
    count !== 0,
  );
}

/** 09 · 3: the training windows the state-correct batching uses out of 2,300. */
export function checkContinuousWindows(count: number): void {
  checkExercise(
    "Exercise 3",
    count === continuousOrder(2300, 15, 20).length,
    "count the windows in continuousOrder(2300, 15, 20): " +
      "20 streams of ⌊(streamLength − 1)/15⌋ windows.",
    count !== 0,
  );
}

/** 10 · 1: the property that freezes a layer or model. */
export function checkFreezeFlag(name: string): void {
  checkExercise(
    "Exercise 1",
    name === "trainable",
    "it is a boolean property of every layer and model; the optimizer updates only the " +
      "weights of the layers where it is true.",
    name !== "",
  );
}

/** 10 · 2: the parameters of withHead's head on 576 features and 5 classes. */
export function checkHeadParams(count: number): void {
  checkExercise(
    "Exercise 2",
    count === 576 * 64 + 64 + 64 * 5 + 5,
    "a Dense layer from n inputs to m units has n·m + m parameters; Dropout has none.",
    count !== 0,
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
export const exerciseValMse = (settings: SunspotsSettings, model?: tf.LayersModel) =>
  scoreRun(runSunspotsExperiment, settings, "val_mse", model);

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
  const settings = sunspotsExerciseSettings(mode);
  const wanted = [SUNSPOTS_BOOK.batchSize, SUNSPOTS_BOOK.window, 1];
  await variantExperiment({
    exercise: "Exercise 4",
    variant,
    unsolvedHint:
      "build your network in this cell (start from a copy of the listing) and assign it to " +
      "myNetwork; the check then trains it beside the book's.",
    problem: (v) => {
      if (differencesFrom(v, () => sunspotRnn()).length === 0)
        return "this is the book's network: change something in it first.";
      const shape = v.inputs[0].shape;
      if (shape.every((d, i) => d === wanted[i])) return undefined;
      return (
        `your network takes batches of shape ${JSON.stringify(shape)}; the book's stateful ` +
        `protocol feeds ${JSON.stringify(wanted)} (batchInputShape).`
      );
    },
    protocol: `the book's protocol for ${settings.epochs} epochs, seed ${settings.seed}`,
    metric: "validation MSE",
    higherIsBetter: false,
    score: (model) => exerciseValMse(settings, model),
    spread: spreadOf(SUNSPOTS_EXERCISE_SPREAD, mode),
    mode,
  });
}

/** Seed spread of notebook 06's exercise protocol, measured by `npm run exercise-spread`. */
export const FASHION_EXERCISE_SPREAD: Record<"smoke" | "default", SeedSpread> = {
  // clean test accuracy, seeds 1-5: 0.4100 0.4900 0.4450 0.3800 0.4550
  smoke: { sd: 0.042, mean: 0.436, seeds: 5, backend: "tensorflow" },
  // clean test accuracy, seeds 1-5: 0.7140 0.7660 0.7160 0.7240 0.7060
  default: { sd: 0.024, mean: 0.7252, seeds: 5, backend: "tensorflow" },
};

/**
 * Trains `model` (the library's book network when none, then freed) under Fashion-MNIST
 * settings `settings` and returns its accuracy on the clean test images after recalibrating
 * BatchNorm (where the network has any).
 */
export const exerciseCleanAccuracy = (settings: FashionSettings, model?: tf.LayersModel) =>
  scoreRun(runFashionExperiment, settings, "test_accuracy_clean", model);

/**
 * 06 · 4, an experiment: `variant` is the reader's change of the book's network (no
 * BatchNormalization, ReLU for LeakyReLU, fewer filters, ...) with 28×28×1 inputs and 10 softmax
 * outputs; it is trained beside the book's network under the exercise protocol
 * ({@link fashionExerciseSettings}) and the two clean test accuracies are compared with the seed
 * spread.
 */
export async function fashionVariantExperiment(
  variant: tf.LayersModel | undefined,
  mode: RunModeName,
): Promise<void> {
  const settings = fashionExerciseSettings(mode);
  await variantExperiment({
    exercise: "Exercise 4",
    variant,
    unsolvedHint:
      "build your network in this cell (start from a copy of the listing) and assign it to " +
      "myNetwork; the check then trains it beside the book's.",
    problem: (v) => {
      if (differencesFrom(v, () => fashionCnn()).length === 0)
        return "this is the book's network: change something in it first.";
      const input = JSON.stringify(v.inputs[0].shape),
        output = JSON.stringify(v.outputs[0].shape);
      if (input !== "[null,28,28,1]")
        return `your network takes inputs of shape ${input}; the images are [28, 28, 1].`;
      if (output === "[null,10]") return undefined;
      return `your network's output has shape ${output}; it must give 10 class probabilities.`;
    },
    protocol:
      `${settings.batchesPerEpoch} augmented batches of ${settings.batchSize}, ` +
      `${settings.testSamples} clean test images, seed ${settings.seed}`,
    metric: "clean test accuracy",
    higherIsBetter: true,
    score: (model) => exerciseCleanAccuracy(settings, model),
    spread: spreadOf(FASHION_EXERCISE_SPREAD, mode),
    mode,
  });
}

/** The few-label protocol of notebook 10's experiment exercise. */
export function transferExerciseSettings(mode: RunModeName, seed = 3) {
  return { perClass: 10, steps: mode === "smoke" ? 10 : 150, seed };
}

/** Seed spread of notebook 10's exercise protocol, measured by `npm run exercise-spread`. */
export const TRANSFER_EXERCISE_SPREAD: Record<"smoke" | "default", SeedSpread> = {
  // test accuracy, seeds 1-5: 0.8000 0.5120 0.5440 0.6560 0.6520
  smoke: { sd: 0.11, mean: 0.6328, seeds: 5, backend: "tensorflow" },
  // test accuracy, seeds 1-5: 0.9080 0.8950 0.9070 0.8820 0.9060
  default: { sd: 0.011, mean: 0.8996, seeds: 5, backend: "tensorflow" },
};

/**
 * Notebook 10's pre-training as `mode` runs it (a base with a head trained on the first 6,000
 * images of digits 0-4 for 200 steps of 64; 300 images and 10 steps in smoke mode), the base
 * saved to a new temporary folder (or `dir`) for {@link transferExperiment}.
 * @returns the folder.
 */
export async function pretrainExerciseBase(mode: RunModeName, dir?: string): Promise<string> {
  const small = mode === "smoke";
  const first = selectClasses(loadMnist("train"), [0, 1, 2, 3, 4]);
  const images = small ? 300 : 6000;
  const set = {
    ...first,
    count: images,
    images: first.images.subarray(0, images * 784),
    labels: first.labels.subarray(0, images),
  };
  const test = selectClasses(loadMnist("test"), [0, 1, 2, 3, 4], { perClass: 50 });
  const base = convBase();
  const model = withHead(base, 5);
  await fitAndScore(model, set, test, { steps: small ? 10 : 200, batchSize: 64 });
  const out = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "ch10-base-"));
  await base.save(fileHandler(out));
  model.dispose();
  return out;
}

/** How a reader builds the network for the new task from the loaded base. */
export type TransferBuild = (base: tf.LayersModel, classes: number) => tf.LayersModel;

/** Notebook 10's transfer: the whole base frozen, with `withHead`'s new head. */
export const frozenBase: TransferBuild = (base, classes) => {
  base.trainable = false;
  return withHead(base, classes);
};

/**
 * Loads the base saved in `baseDir`, builds the new task's network with `build` and trains it on
 * `settings.perClass` labelled images per class of `trainSet` for `settings.steps` steps (Adam
 * 1e-3, seeded), then returns its accuracy on `test`; the network is freed.
 */
export async function exerciseTransferAccuracy(
  baseDir: string,
  trainSet: ImageDataset,
  test: ImageDataset,
  settings: ReturnType<typeof transferExerciseSettings>,
  build: TransferBuild = frozenBase,
): Promise<number> {
  const classes = Math.max(...test.labels) + 1;
  const ids = Array.from({ length: classes }, (_, i) => i);
  const data = selectClasses(trainSet, ids, { perClass: settings.perClass, seed: settings.seed });
  const restore = seedGlobalRandom(settings.seed);
  let base: tf.LayersModel | undefined, model: tf.LayersModel | undefined;
  try {
    base = await tf.loadLayersModel(fileHandler(baseDir));
    model = build(base, classes);
    return (await fitAndScore(model, data, test, { steps: settings.steps })).accuracy;
  } finally {
    restore();
    if (model && base) disposeBuilt(model, base);
    else base?.dispose();
  }
}

/**
 * 10 · 3, an experiment: `build` makes the new task's network from the base saved in `baseDir`
 * (loaded afresh for each run) in the reader's way (which layers stay frozen, another head); it
 * is trained on `trainSet` beside notebook 10's fully frozen base with `withHead` on the same 10 labelled images per class, seed and steps
 * ({@link transferExerciseSettings}) and the accuracies on `test` are compared with the seed
 * spread.
 */
export async function transferExperiment(
  build: TransferBuild | undefined,
  baseDir: string,
  trainSet: ImageDataset,
  test: ImageDataset,
  mode: RunModeName,
): Promise<void> {
  const settings = transferExerciseSettings(mode);
  const classes = Math.max(...test.labels) + 1;
  await variantExperiment<TransferBuild>({
    exercise: "Exercise 3",
    baseline: "the frozen base",
    variant: build,
    unsolvedHint:
      "write myBuild(base, classes): set trainable on the base's layers your way, put a head " +
      "on it and return the model; the check then trains it beside the frozen base.",
    problem: (b) => {
      const base = convBase(); // a fresh base of the same architecture, for the shapes
      const m = b(base, classes);
      const output = JSON.stringify(m.outputs[0].shape);
      disposeBuilt(m, base);
      return output === `[null,${classes}]`
        ? undefined
        : `your network outputs ${output}; the new task has ${classes} classes.`;
    },
    protocol:
      `${settings.perClass} labelled images per class, ${settings.steps} steps, ` +
      `${test.count} test images, seed ${settings.seed}`,
    metric: "test accuracy",
    higherIsBetter: true,
    score: (b) => exerciseTransferAccuracy(baseDir, trainSet, test, settings, b),
    spread: spreadOf(TRANSFER_EXERCISE_SPREAD, mode),
    mode,
  });
}

/** Frees a network built on `base`, and `base` too when the network does not hold it. */
function disposeBuilt(model: tf.LayersModel, base: tf.LayersModel): void {
  const holdsBase = model.layers.includes(base as unknown as tf.layers.Layer);
  model.dispose();
  if (!holdsBase) base.dispose();
}
