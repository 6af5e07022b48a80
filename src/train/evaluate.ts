import * as tf from "@tensorflow/tfjs";
import { Matrix, zeros } from "../core/matrix";

/** Predicted class of every input, computed in batches so large test sets fit in memory. */
export function predictClasses(model: tf.LayersModel, x: tf.Tensor, batchSize = 256): Int32Array {
  const n = x.shape[0];
  const out = new Int32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const classes = tf.tidy(() =>
      tf.argMax(model.predict(tf.slice(x, start, size)) as tf.Tensor, -1).dataSync(),
    );
    out.set(classes, start);
  }
  return out;
}

/** Counts `[true class][predicted class]`. */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): Matrix {
  if (truth.length !== predicted.length)
    throw new Error(`confusionMatrix: ${truth.length} labels but ${predicted.length} predictions`);
  const m = zeros(classes, classes);
  for (let i = 0; i < truth.length; i++) m.data[truth[i] * classes + predicted[i]]++;
  return m;
}

/** Fraction of equal entries. */
export function accuracy(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) ok++;
  return ok / truth.length;
}

/** One row per layer: name, class, output shape and parameters (Keras's `model.summary()`). */
export function modelSummary(
  model: tf.LayersModel,
): { layer: string; type: string; output: string; params: number }[] {
  return model.layers.map((l) => ({
    layer: l.name,
    type: l.getClassName(),
    output: JSON.stringify(l.outputShape).replace(/null/g, "None"),
    params: l.countParams(),
  }));
}

/**
 * The output of every layer whose class is in `classes` for one input, as lists of feature maps
 * (`[layer][channel]` matrices), for looking inside a CNN.
 */
export function featureMaps(
  model: tf.LayersModel,
  input: tf.Tensor4D,
  classes = ["Conv2D"],
): { layer: string; maps: Matrix[] }[] {
  const picked = model.layers.filter((l) => classes.includes(l.getClassName()));
  const probe = tf.model({
    inputs: model.inputs,
    outputs: picked.map((l) => l.output as tf.SymbolicTensor),
  });
  const outputs = tf.tidy(() => {
    const o = probe.predict(input);
    return (Array.isArray(o) ? o : [o]).map((t) => ({ shape: t.shape, data: t.dataSync() }));
  });
  return picked.map((l, k) => {
    const [, rows, cols, ch] = outputs[k].shape;
    const maps = Array.from({ length: ch }, (_, c) => ({
      rows,
      cols,
      data: Float64Array.from({ length: rows * cols }, (_, p) => outputs[k].data[p * ch + c]),
    }));
    return { layer: l.name, maps };
  });
}

/**
 * A title for a model's summary: its parameter count beside the book's network's, e.g.
 * `1,117,690 parameters (the book's network: 1,120,074)`.
 */
export function parametersTitle(model: tf.LayersModel, book: number): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const count = model.countParams();
  return count === book
    ? `${n(count)} parameters, as the book's network`
    : `${n(count)} parameters (the book's network: ${n(book)})`;
}

/**
 * The kernels of the first `Conv2D` layer of `model` for input channel `channel`, one matrix per
 * filter (tfjs stores a kernel as [rows, cols, in, out]).
 */
export function convKernels(model: tf.LayersModel, channel = 0): Matrix[] {
  const layer = model.layers.find((l) => l.getClassName() === "Conv2D");
  if (!layer) throw new Error(`convKernels: ${model.name} has no Conv2D layer`);
  const kernel = layer.getWeights()[0];
  const [rows, cols, inputs, filters] = kernel.shape;
  const k = kernel.dataSync();
  return Array.from({ length: filters }, (_, f) => ({
    rows,
    cols,
    data: Float64Array.from(
      { length: rows * cols },
      (_, p) => k[(p * inputs + channel) * filters + f],
    ),
  }));
}
