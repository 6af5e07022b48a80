import * as tf from "@tensorflow/tfjs";

type LossOrMetric = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
type WeightVariable = {
  read(): tf.Variable;
  write(value: tf.Tensor): void;
  trainable: boolean;
  shape: number[];
};

/** The parts of a compiled tfjs LayersModel that its own training step uses. */
interface CompiledModel {
  lossFunctions: LossOrMetric[];
  metricsTensors: [LossOrMetric, number][];
  calculateLosses(): tf.Scalar[];
  collectedTrainableWeights: WeightVariable[];
  weights: WeightVariable[];
}

/**
 * The LayersModel that runs a model's training: a `tf.Sequential` delegates `fit`,
 * `fitDataset` and `trainOnBatch` to the functional model it wraps.
 */
export function trainingCore(model: tf.LayersModel): tf.LayersModel {
  const inner = (model as unknown as { model?: unknown }).model;
  return model instanceof tf.Sequential && inner instanceof tf.LayersModel ? inner : model;
}

function compiled(model: tf.LayersModel): CompiledModel {
  const m = trainingCore(model) as unknown as CompiledModel;
  if (!Array.isArray(m.lossFunctions) || !Array.isArray(m.metricsTensors))
    throw new Error("data-parallel training: the model is not compiled");
  return m;
}

/** The variables whose gradients a step computes, in the order tfjs's own training step uses. */
export function trainableVariables(model: tf.LayersModel): WeightVariable[] {
  return compiled(model).collectedTrainableWeights;
}

/**
 * The weights that change during a forward pass in training
 * mode but get no gradient (BatchNorm moving statistics).
 */
export function nonTrainableVariables(model: tf.LayersModel): WeightVariable[] {
  const trainable = new Set(trainableVariables(model));
  return compiled(model).weights.filter((w) => !trainable.has(w));
}

/** One shard's contribution to a training step. */
export interface ShardStep {
  /** Mean loss over the shard (plus regularisation), as tfjs's training step computes it. */
  loss: tf.Scalar;
  /** The compiled metrics, each averaged over the shard. */
  metrics: tf.Scalar[];
  /** Gradient of `loss` for each of {@link trainableVariables}, in that order. */
  grads: tf.Tensor[];
}

/**
 * Loss, metrics and gradients of one shard of a batch, computed exactly as tfjs's
 * `makeTrainFunction` does for a single-input, single-output model (training-mode forward pass,
 * mean of the compiled loss, regulariser penalties, mean of each metric), without applying them.
 * BatchNorm layers update their moving statistics from this shard, as in a normal step.
 */
export function shardStep(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): ShardStep {
  const m = compiled(model);
  const variables = m.collectedTrainableWeights.map((w) => w.read());
  const metrics: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const prediction = model.apply(x, { training: true }) as tf.Tensor;
    let loss = tf.mean(m.lossFunctions[0](y, prediction)) as tf.Scalar;
    for (const [metric] of m.metricsTensors)
      metrics.push(tf.keep(tf.mean(metric(y, prediction)) as tf.Scalar));
    for (const penalty of m.calculateLosses()) loss = tf.add(loss, penalty);
    return loss;
  }, variables);
  return { loss: value, metrics, grads: variables.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
}

/** Copies the values of `variables` into `target` back to back (float32). */
export function packVariables(variables: WeightVariable[], target: Float32Array): void {
  let offset = 0;
  for (const v of variables) {
    const data = v.read().dataSync();
    target.set(data, offset);
    offset += data.length;
  }
}

/** Copies tensors' values into `target` back to back. */
export function packTensors(tensors: tf.Tensor[], target: Float32Array): void {
  let offset = 0;
  for (const t of tensors) {
    const data = t.dataSync();
    target.set(data, offset);
    offset += data.length;
  }
}

/**
 * Tensors shaped like `variables`, read back to back from `source` (copied out of shared memory).
 */
export function unpack(variables: { shape: number[] }[], source: Float32Array): tf.Tensor[] {
  let offset = 0;
  return variables.map((v) => {
    const size = v.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(source.slice(offset, offset + size), v.shape);
    offset += size;
    return t;
  });
}

/** Total number of floats in `variables`. */
export function floatCount(variables: { shape: number[] }[]): number {
  return variables.reduce((s, v) => s + v.shape.reduce((a, b) => a * b, 1), 0);
}
