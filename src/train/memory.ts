import * as tf from "@tensorflow/tfjs";

/** The wasm backend's heap is a 32-bit WebAssembly memory: it cannot grow past 4 GiB. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

/**
 * Peak memory of one training step on wasm, in bytes per byte of layer output per sample
 * (activations, their gradients, the im2col patches of the convolution gradients, copies),
 * fitted to the Fashion CNN: peak RSS 3.0 GB at batch 256, 3.5 GB at 300, and an abort of the
 * wasm module at 384. Weights count four times (values, gradients, Adam's m and v), plus 150 MB
 * for the runtime. Batches are refused above 90% of the heap, a margin for the estimate's error.
 */
const ACTIVATION_FACTOR = 6;
const RUNTIME_BYTES = 150e6;
const SAFE_FRACTION = 0.9;

/** Floats a model's layers output per sample (the activations kept for back-propagation). */
export function activationsPerSample(model: tf.LayersModel): number {
  return model.layers.reduce((s, l) => {
    const shape = l.outputShape as (number | null)[] | (number | null)[][];
    const shapes = Array.isArray(shape[0])
      ? (shape as (number | null)[][])
      : [shape as (number | null)[]];
    return (
      s + shapes.reduce((q, sh) => q + sh.slice(1).reduce((p: number, d) => p * (d ?? 1), 1), 0)
    );
  }, 0);
}

/** Estimated peak bytes of one training step at `batchSize` on wasm (see ACTIVATION_FACTOR). */
export function estimateTrainingBytes(model: tf.LayersModel, batchSize: number): number {
  return (
    RUNTIME_BYTES +
    16 * model.countParams() +
    ACTIVATION_FACTOR * 4 * batchSize * activationsPerSample(model)
  );
}

/**
 * On the wasm backend, refuses a batch whose estimated training memory would not fit the 4 GiB
 * heap with a 10% margin (past the heap, the wasm module aborts with a bare "Aborted()"), naming
 * the largest batch that fits. With data-parallel `threads`, each thread has its own heap and
 * holds one shard of the batch. Does nothing on other backends.
 * @throws with the estimate, the limit and the advice.
 */
export function checkBatchFits(
  model: tf.LayersModel,
  batchSize: number,
  backend = tf.getBackend(),
  threads = 1,
): void {
  if (backend !== "wasm") return;
  const shard = Math.ceil(batchSize / threads);
  const need = estimateTrainingBytes(model, shard);
  const limit = SAFE_FRACTION * WASM_HEAP_LIMIT_BYTES;
  if (need <= limit) return;
  const perSample = ACTIVATION_FACTOR * 4 * activationsPerSample(model);
  const fits =
    threads *
    Math.max(0, Math.floor((limit - RUNTIME_BYTES - 16 * model.countParams()) / perSample));
  const split = threads > 1 ? ` (${shard} rows on each of ${threads} threads)` : "";
  const perThread = threads > 1 ? " per thread" : "";
  throw new Error(
    `train: a batch of ${batchSize}${split} would need about ${(need / 1e9).toFixed(1)} GB ` +
      `of wasm memory${perThread} for "${model.name}", but the wasm heap ends at 4 GiB; ` +
      `use batchSize <= ${fits}, or the tensorflow backend (CH10_BACKEND=tensorflow) or cpu`,
  );
}
