import * as tf from "@tensorflow/tfjs";
import { OpAttr, runTfOp } from "./ops";

/**
 * BatchNormalization in training on the native `tensorflow` backend as TensorFlow's own fused
 * kernels: one `FusedBatchNormV3` forward and one `FusedBatchNormGradV3` backward per layer,
 * where tfjs-layers composes moments, a batch norm and their gradients from ~40 element-wise ops
 * (the Fashion CNN's step: 1,340 -> see environment.md). Inference, other backends and layouts
 * other than channels-last rank 2 or 4 keep tfjs-layers' own code. The moving statistics are
 * updated exactly as tfjs-layers does (with the biased batch variance).
 */

/** The fields of tfjs-layers' BatchNormalization that its training step reads. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}
type Call = (
  this: BatchNormLayer,
  inputs: tf.Tensor | tf.Tensor[],
  kwargs: Record<string, unknown>,
) => tf.Tensor | tf.Tensor[];

let installed = false;

/**
 * Routes BatchNormalization's training step through TensorFlow's
 * fused kernels while the tensorflow backend is active.
 */
export function installNativeBatchNorm(): void {
  if (installed) return;
  installed = true;
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as { call: Call };
  const original = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = (this.axis >= 0 ? this.axis : this.axis + x.rank) === x.rank - 1;
    if (
      !kwargs?.training ||
      tf.getBackend() !== "tensorflow" ||
      !this.center ||
      !this.scale ||
      !lastAxis ||
      (x.rank !== 2 && x.rank !== 4)
    ) {
      return original.call(this, inputs, kwargs);
    }
    return fusedBatchNormTraining(
      x,
      this.gamma.read(),
      this.beta.read(),
      this.epsilon,
      (mean, variance) => {
        for (const [variable, value] of [
          [this.movingMean, mean],
          [this.movingVariance, variance],
        ] as const) {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - this.momentum)));
        }
      },
    );
  };
}

/**
 * Normalises `x` (channels last, rank 2 or 4) with its batch statistics, scaled by `gamma` and
 * shifted by `beta`; differentiable in all three. `onStats` receives the batch mean and biased
 * variance during the forward pass (they are released when it returns).
 */
export function fusedBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  onStats: (mean: tf.Tensor, variance: tf.Tensor) => void,
): tf.Tensor {
  const attrs: Record<string, OpAttr> = {
    T: ["type", "float32"],
    U: ["type", "float32"],
    epsilon: ["float", epsilon],
    data_format: ["string", "NHWC"],
    is_training: ["bool", true],
  };
  const channels = x.shape[x.rank - 1];
  const count = x.size / channels;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, bt] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const x4 = xIn.rank === 4 ? xIn : tf.reshape(xIn, [xIn.shape[0], 1, 1, channels]);
    const empty = tf.tensor1d([], "float32");
    const [y, batchMean, batchVariance, r1, r2, r3] = runTfOp(
      "FusedBatchNormV3",
      { ...attrs, exponential_avg_factor: ["float", 1] },
      [x4, g, bt, empty, empty],
      6,
    );
    // TensorFlow's batch variance is Bessel-corrected (for its own
    // moving average); tfjs-layers moves towards the biased one.
    onStats(batchMean, count > 1 ? tf.mul(batchVariance, (count - 1) / count) : batchVariance);
    save([x4, g, r1, r2, r3]);
    return {
      value: tf.reshape(y, xIn.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, s1, s2, s3] = saved;
        const dy4 = tf.reshape(dy as tf.Tensor, sx.shape);
        const [dx, dGamma, dBeta] = runTfOp(
          "FusedBatchNormGradV3",
          attrs,
          [dy4, sx, sg, s1, s2, s3],
          5,
        );
        return [tf.reshape(dx, xIn.shape), dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta);
}
