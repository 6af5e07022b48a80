import * as tf from "@tensorflow/tfjs";

/** Per-channel statistics that {@link recalibrateBatchNorm} wrote into one layer. */
export interface BatchNormStats {
  layer: string;
  mean: Float32Array;
  variance: Float32Array;
}

const isBatchNorm = (l: tf.layers.Layer) => l.getClassName() === "BatchNormalization";

/**
 * Replaces the moving mean and variance of every BatchNormalization layer of a sequential model
 * with the population statistics of its inputs over `x`, as the network sees them in training
 * (each BatchNormalization normalising with its batch's statistics, everything else in inference
 * mode, so Dropout is off).
 *
 * Why: at inference BatchNormalization uses moving averages that move by 1 − momentum per
 * training step, so after a short run they are still near their initial values (mean 0,
 * variance 1) and the network answers at chance level although it has learned. One pass over a
 * few hundred training images fixes that without changing a trained weight ("precise BN").
 * The variance is the biased one, as Keras uses to normalise in training.
 *
 * @param x calibration inputs (training images, preprocessed as for training).
 * @param batchSize images per forward pass; the statistics are those of the whole of `x`.
 * @returns the statistics written, one entry per BatchNormalization layer.
 * @throws when the model is not a plain chain of single-input layers or has no BatchNormalization.
 */
export function recalibrateBatchNorm(
  model: tf.LayersModel,
  x: tf.Tensor,
  batchSize = 128,
): BatchNormStats[] {
  const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  if (!layers.some(isBatchNorm))
    throw new Error(`recalibrateBatchNorm: model "${model.name}" has no BatchNormalization layer`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new Error(
      `recalibrateBatchNorm: model "${model.name}" ` +
        "must have one input and one output (a sequential chain)",
    );
  if (!(batchSize >= 1))
    throw new Error(`recalibrateBatchNorm: batchSize must be at least 1, got ${batchSize}`);
  const n = x.shape[0];
  const sums = new Map<tf.layers.Layer, { sum: Float64Array; sumSq: Float64Array }>();
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    tf.tidy(() => {
      let h = tf.slice(x, start, size);
      for (const layer of layers) {
        if (isBatchNorm(layer)) {
          const axes = h.shape.map((_, i) => i).slice(0, -1);
          const channels = h.shape[h.shape.length - 1];
          const s = tf.sum(h, axes).dataSync(),
            s2 = tf.sum(tf.square(h), axes).dataSync();
          const acc = sums.get(layer) ?? {
            sum: new Float64Array(channels),
            sumSq: new Float64Array(channels),
          };
          for (let c = 0; c < channels; c++) {
            acc.sum[c] += s[c];
            acc.sumSq[c] += s2[c];
          }
          sums.set(layer, acc);
        }
        h = layer.apply(h, { training: isBatchNorm(layer) }) as tf.Tensor;
      }
    });
  }
  const stats: BatchNormStats[] = [];
  for (const layer of layers.filter(isBatchNorm)) {
    const acc = sums.get(layer)!;
    const inputShape = layer.input as tf.SymbolicTensor;
    const count = n * inputShape.shape.slice(1, -1).reduce((p: number, d) => p * (d ?? 1), 1);
    const mean = Float32Array.from(acc.sum, (s) => s / count);
    const variance = Float32Array.from(acc.sumSq, (s2, c) =>
      Math.max(0, s2 / count - (acc.sum[c] / count) ** 2),
    );
    const weights = layer.getWeights();
    // Keras order: gamma, beta (when present), moving_mean, moving_variance.
    const fresh = [tf.tensor1d(mean), tf.tensor1d(variance)];
    layer.setWeights([...weights.slice(0, -2), ...fresh]);
    tf.dispose(fresh);
    stats.push({ layer: layer.name, mean, variance });
  }
  return stats;
}
