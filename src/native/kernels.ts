import * as tf from "@tensorflow/tfjs";
import { OpAttr, runTfOp } from "./ops";
import { ours, withTensors, wrapKernel } from "../backend/registry";

/**
 * Kernels that tfjs-node 4.22's `tensorflow` backend lacks or gets wrong on TensorFlow 2.21,
 * registered when that backend is in use (environment.md lists each with its test):
 *
 * - **Transform** (`tf.image.transform`, ImageDataGenerator): missing in tfjs-node. Fix:
 *   TensorFlow's own `ImageProjectiveTransformV3`.
 * - **gradients of Relu and LeakyRelu**: tfjs computes a step or a select over a comparison
 *   (tfjs-node's Step fills ones in JavaScript). Fix: TensorFlow's ReluGrad and LeakyReluGrad.
 * - **Conv2DBackpropInput with one input and one output channel**: TensorFlow 2.21's oneDNN kernel
 *   returns wrong values once another convolution ran in the process (reproduced in Python). Fix:
 *   computed with a second, all-zero input channel, which takes a correct path.
 */

/**
 * Registers the tensorflow-backend kernels above when that
 * backend exists (returns whether); safe to call more than once.
 */
export function registerNativeKernels(): boolean {
  if (!tf.findBackendFactory("tensorflow")) return false;
  if (!tf.getKernel("Transform", "tensorflow")) {
    const kernelFunc: tf.KernelFunc = ({ inputs, attrs }) =>
      transform(
        inputs as { image: tf.TensorInfo; transforms: tf.TensorInfo },
        attrs as unknown as TransformAttrs,
      );
    ours.add(kernelFunc);
    tf.registerKernel({ kernelName: "Transform", backendName: "tensorflow", kernelFunc });
  }
  wrapKernel("Conv2DBackpropInput", "tensorflow", singleChannelSafeInputGrad);
  registerNativeActivationGradients();
  return true;
}

/**
 * The gradients of ReLU and LeakyReLU as TensorFlow's `ReluGrad` / `LeakyReluGrad` while the
 * tensorflow backend runs: tfjs computes them from a step (tfjs-node's Step kernel fills a
 * full-size array of ones in JavaScript) or a select over a comparison, two to four passes.
 * Other backends keep the gradient that was registered before.
 */
const nativeGradients = new WeakSet<tf.GradFunc>();

function registerNativeActivationGradients(): void {
  for (const [kernelName, tfOp] of [
    ["Relu", "ReluGrad"],
    ["LeakyRelu", "LeakyReluGrad"],
  ] as const) {
    const previous = tf.getGradient(kernelName);
    if (!previous || nativeGradients.has(previous.gradFunc)) continue;
    const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
      if (tf.getBackend() !== "tensorflow") return previous.gradFunc(dy, saved, attrs);
      const alpha: Record<string, OpAttr> =
        kernelName === "LeakyRelu" ? { alpha: ["float", (attrs as { alpha: number }).alpha] } : {};
      return {
        x: () =>
          runTfOp(tfOp, { T: ["type", "float32"], ...alpha }, [dy as tf.Tensor, saved[0]])[0],
      };
    };
    nativeGradients.add(gradFunc);
    // fallback-kernels.ts' registerFallbackKernels leaves it in place,
    // so initBackend does not swap gradients back and forth
    ours.add(gradFunc);
    tf.registerGradient({ kernelName, inputsToSave: ["x"], gradFunc });
  }
}

interface TransformAttrs {
  interpolation: "nearest" | "bilinear";
  fillMode: "constant" | "reflect" | "wrap" | "nearest";
  fillValue: number;
  outputShape?: [number, number];
}

/**
 * tfjs's Transform is TensorFlow's ImageProjectiveTransformV3
 * (same 8-number transforms, same modes).
 */
function transform(
  inputs: { image: tf.TensorInfo; transforms: tf.TensorInfo },
  attrs: TransformAttrs,
): tf.Tensor {
  const [, height, width] = inputs.image.shape;
  const [outH, outW] = attrs.outputShape ?? [height, width];
  const outputShape = tf.tensor1d([outH, outW], "int32");
  const fillValue = tf.scalar(attrs.fillValue ?? 0, "float32");
  try {
    return runTfOp(
      "ImageProjectiveTransformV3",
      {
        dtype: ["type", "float32"],
        interpolation: ["string", attrs.interpolation.toUpperCase()],
        fill_mode: ["string", attrs.fillMode.toUpperCase()],
      },
      [inputs.image, inputs.transforms, outputShape, fillValue],
    )[0];
  } finally {
    tf.dispose([outputShape, fillValue]);
  }
}

/**
 * Conv2DBackpropInput, with the one-channel-to-one-channel
 * case routed around TensorFlow 2.21's defect.
 */
function singleChannelSafeInputGrad(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    if (filter.shape[2] !== 1 || filter.shape[3] !== 1) return original(args);
    const a = args.attrs as {
      strides: number | [number, number];
      pad: "same" | "valid" | number;
      inputShape: [number, number, number, number];
      dimRoundingMode?: "floor" | "round" | "ceil";
    };
    return withTensors([dy, filter], (dyT, filterT) =>
      tf.tidy(() => {
        const twoChannels = tf.concat([filterT, tf.zerosLike(filterT)], 2) as tf.Tensor4D;
        const [b, h, w] = a.inputShape;
        const dx = tf.conv2dTranspose(
          dyT as tf.Tensor4D,
          twoChannels,
          [b, h, w, 2],
          a.strides,
          a.pad,
          a.dimRoundingMode,
        );
        return tf.slice(dx, [0, 0, 0, 0], [b, h, w, 1]);
      }),
    );
  };
}

/**
 * The inverted-dropout multiplier (0 with probability `rate`, else 1 / (1 - rate)) drawn by
 * TensorFlow's own `RandomUniform` on the tensorflow backend: the JavaScript generator of
 * dropout.ts plus the upload costs more there than the three TensorFlow ops.
 */
export function nativeDropoutMultiplier(shape: number[], rate: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const dims = tf.tensor1d(shape, "int32");
    const [u] = runTfOp(
      "RandomUniform",
      {
        seed: ["int", seed & 0x7fffffff],
        seed2: ["int", (seed >>> 1) ^ 0x5bd1e995],
        dtype: ["type", "float32"],
        T: ["type", "int32"],
      },
      [dims],
    );
    return tf.mul(tf.cast(tf.greaterEqual(u, rate), "float32"), 1 / (1 - rate));
  });
}
