import * as tf from "@tensorflow/tfjs";
import { Matrix, at, fromRows, zeros } from "../core/matrix";
import { conv2d, pool2d, zeroPad } from "../conv/from-scratch";
import { conv2dValid } from "../conv/naive";
import { SOBEL_X } from "../conv/filters";
import { rankOneSplit } from "../conv/separable";
import { depthwiseSeparableRatio } from "../conv/counts";
import { relativeDistance, maxAbsDiff } from "../core/matrix";
import { whiteSquare } from "../data/images";
import { crossImage, translate } from "../data/synthetic";
import { mnistCnn } from "../models/cnn";
import { checkExercise } from "../notebook/exercise";
import { RunModeName } from "../core/mode";
import { differencesFrom } from "../experiments/architecture";
import { MnistSettings, mnistExerciseSettings, runMnistExperiment } from "../experiments/mnist";
import { SeedSpread, scoreRun, spreadOf, variantExperiment } from "./compare";

/** Checks of the convolution notebooks' exercises (01–05); each recomputes the truth itself. */

/**
 * 01 · 1: a 3x3 kernel that responds to the white square's
 * vertical edges and gives exactly 0 on its horizontal ones.
 */
export function checkVerticalEdgeKernel(kernel: Matrix): void {
  const response = conv2dValid(whiteSquare(40, 20), kernel);
  const vertical = Math.abs(at(response, 19, 9)),
    horizontal = Math.abs(at(response, 9, 19));
  checkExercise(
    "Exercise 1",
    vertical > 0.5 && horizontal < 1e-9,
    `response on the vertical edge = ${vertical}, on the horizontal edge = ${horizontal}; ` +
      "want > 0.5 and 0.",
    kernel.data.some((v) => v !== 0),
  );
}

/** 01 · 2: the valid output size of a 5x7 kernel on a 100x100 image. */
export function checkValidOutputSize(answer: [number, number]): void {
  const truth = conv2dValid(zeros(100, 100), zeros(5, 7));
  checkExercise(
    "Exercise 2",
    answer[0] === truth.rows && answer[1] === truth.cols,
    "each axis loses (kernel size − 1) pixels: (w − n + 1) × (h − m + 1).",
    answer[0] !== 0 || answer[1] !== 0,
  );
}

/** 02 · 1: strides that, with same padding, make `image` a quarter as tall and half as wide. */
export function checkQuarterHalfStrides(strides: [number, number], image: Matrix): void {
  const y = conv2d(image, zeros(3, 3), { strides, padding: "same" });
  const want = [Math.ceil(image.rows / 4), Math.ceil(image.cols / 2)];
  checkExercise(
    "Exercise 1",
    y.rows === want[0] && y.cols === want[1],
    `got ${y.rows}×${y.cols}, want ${want[0]}×${want[1]}: same padding gives ⌈w/s⌉ per axis.`,
    strides[0] !== 1 || strides[1] !== 1,
  );
}

/** 02 · 2: rings of zeros that make a valid 5x5 convolution reproduce same padding. */
export function checkSamePaddingRings(rings: number, image: Matrix): void {
  const box5 = { rows: 5, cols: 5, data: new Float64Array(25).fill(1 / 25) };
  const padded = conv2d(zeroPad(image, rings), box5, { padding: "valid" });
  const reference = conv2d(image, box5, { padding: "same" });
  checkExercise(
    "Exercise 2",
    padded.rows === reference.rows &&
      padded.cols === reference.cols &&
      maxAbsDiff(padded, reference) < 1e-12,
    `with ${rings} ring(s) the output is ${padded.rows}×${padded.cols}; ` +
      "same padding adds n−1 = 4 rows in total.",
    rings !== 0,
  );
}

const ONES3 = fromRows([
  [1, 1, 1],
  [1, 1, 1],
  [1, 1, 1],
]);

/** Width of the non-zero columns of a map (the receptive field an impulse reveals). */
function span(m: Matrix): number {
  const cols = new Set<number>();
  m.data.forEach((v, p) => {
    if (v !== 0) cols.add(p % m.cols);
  });
  return Math.max(...cols) - Math.min(...cols) + 1;
}

/**
 * 03 · 1: the dilation rate that gives a 3x3 kernel
 * a 7x7 receptive field, measured with an impulse.
 */
export function checkDilationFor7(rate: number): void {
  const impulse = zeros(21, 21);
  impulse.data[10 * 21 + 10] = 1;
  const reach = span(conv2d(impulse, ONES3, { padding: "same", dilation: rate }));
  checkExercise(
    "Exercise 1",
    reach === 7,
    `rate ${rate} covers ${reach}×${reach}; use k + (k−1)(d−1) = 7.`,
    rate !== 1,
  );
}

/** 03 · 2: a separable (rank-1) 3x3 kernel that is not a multiple of Sobel or of the box blur. */
export function checkSeparableKernel(kernel: Matrix): void {
  const split = rankOneSplit(kernel);
  const unit = (k: Matrix) => {
    const norm = Math.hypot(...k.data) || 1;
    return Array.from(k.data, (v) => v / norm);
  };
  const parallel = (a: Matrix, b: Matrix) => {
    const ua = unit(a),
      ub = unit(b);
    return [1, -1].some((sign) => ua.every((v, i) => Math.abs(v - sign * ub[i]) < 1e-9));
  };
  const boxOrSobel = [SOBEL_X, ONES3].some((k) => parallel(kernel, k));
  const values = split.singularValues.map((v) => v.toFixed(3)).join(", ");
  checkExercise(
    "Exercise 2",
    split.separable && !boxOrSobel,
    `singular values ${values}${boxOrSobel ? " (a multiple of Sobel or the box)" : ""}: ` +
      "a separable kernel has only one non-zero: build it as the outer product of a column " +
      "and a row vector.",
    kernel.data.join() !== "0,1,0,1,-4,1,0,1,0",
  );
}

/**
 * 03 · 3: the smallest q for which a 3x3 depthwise-separable
 * layer needs < 20% of a standard layer's weights.
 */
export function checkSmallestQ(q: number): void {
  const smallest = Array.from({ length: 64 }, (_, i) => i + 1).find(
    (n) => depthwiseSeparableRatio(3, 3, n) < 0.2,
  )!;
  checkExercise(
    "Exercise 3",
    q === smallest,
    `ratio at q = ${q} is ${depthwiseSeparableRatio(3, 3, q).toFixed(3)}; solve 1/q + 1/9 < 0.2.`,
    q !== 1,
  );
}

/**
 * 04 · 1: the pool size (stride = size) among 2, 4, 5, 10
 * that makes the max-pooled crosses closest after one step.
 */
export function checkBestPoolSize(size: number): void {
  const cross = crossImage(64, 16, 6),
    moved = translate(cross, 10, 10);
  const afterOne = (k: number) =>
    relativeDistance(pool2d(cross, "max", { size: k }), pool2d(moved, "max", { size: k }));
  const best = [2, 4, 5, 10].reduce((a, k) => (afterOne(k) < afterOne(a) ? k : a), 2);
  checkExercise(
    "Exercise 1",
    size === best,
    `distance with pool ${size}: ${afterOne(size).toFixed(3)}; ` +
      "compute it for the other sizes and compare.",
    size !== 2,
  );
}

/** 04 · 2: the output size of a 3x3, stride-2, same max pooling on 28x28. */
export function checkPoolOutputSize(answer: number): void {
  const truth = pool2d(zeros(28, 28), "max", { size: 3, strides: 2, padding: "same" });
  checkExercise(
    "Exercise 2",
    answer === truth.rows,
    "with same padding the output is ⌈w / s⌉ whatever the pool size.",
    answer !== 0,
  );
}

/** Seed spread of notebook 05's exercise protocol, measured by `npm run exercise-spread`. */
export const MNIST_EXERCISE_SPREAD: Record<"smoke" | "default", SeedSpread> = {
  // test accuracy, seeds 1-5: 0.2150 0.2650 0.2850 0.1250 0.1400
  smoke: { sd: 0.072, mean: 0.206, seeds: 5, backend: "wasm" },
  // test accuracy, seeds 1-5: 0.7060 0.7040 0.7385 0.7310 0.7570
  default: { sd: 0.022, mean: 0.7273, seeds: 5, backend: "wasm" },
};

/**
 * Trains `model` (the book's network when none, built from the run's seed and freed after)
 * under MNIST settings `settings`, compiled as the book compiles it unless it already is, and
 * returns its test accuracy.
 */
export const exerciseAccuracy = (settings: MnistSettings, model?: tf.LayersModel) =>
  scoreRun(runMnistExperiment, settings, "test_accuracy", model);

/**
 * 05 · 1, an experiment: `variant` must be the book's network with max pooling in its three
 * pooling slots; it is then trained beside the book's network under the exercise protocol (same
 * images, seed and epochs, {@link mnistExerciseSettings}), and the two test accuracies are
 * compared with the seed spread.
 */
export async function maxPoolingExperiment(
  variant: tf.LayersModel | undefined,
  mode: RunModeName,
): Promise<void> {
  const settings = mnistExerciseSettings(mode);
  await variantExperiment({
    exercise: "Exercise 1",
    variant,
    unsolvedHint:
      "build your network in this cell (a copy of the listing above is a good start) and " +
      "assign it to myVariant; the check then trains it beside the book's.",
    problem: (v) => {
      const differences = differencesFrom(v, mnistCnn);
      const swapped = differences.filter((d) => /: MaxPooling2D, book AveragePooling2D$/.test(d));
      const others = differences.filter((d) => !swapped.includes(d));
      if (swapped.length === 3 && others.length === 0 && v.countParams() === 1120074)
        return undefined;
      return (
        `${swapped.length} of the 3 pooling layers are max pooling` +
        (others.length ? `, and the network differs elsewhere: ${others.join("; ")}` : "") +
        `; ${v.countParams().toLocaleString("en-US")} parameters. Only the pooling layers ` +
        "should change (pooling has no weights)."
      );
    },
    protocol:
      `${settings.trainSamples.toLocaleString("en-US")} training and ` +
      `${settings.testSamples.toLocaleString("en-US")} test images, ${settings.epochs} epoch, ` +
      `seed ${settings.seed}`,
    metric: "test accuracy",
    higherIsBetter: true,
    score: (model) => exerciseAccuracy(settings, model),
    spread: spreadOf(MNIST_EXERCISE_SPREAD, mode),
    mode,
  });
}

/** 05 · 2: the parameters of the MNIST network's dense layers. */
export function checkDenseParams(count: number): void {
  const model = mnistCnn();
  const truth = model.layers
    .filter((l) => l.getClassName() === "Dense")
    .reduce((s, l) => s + l.countParams(), 0);
  model.dispose();
  checkExercise(
    "Exercise 2",
    count === truth,
    "a Dense layer from n inputs to m units has n·m + m parameters.",
    count !== 0,
  );
}
