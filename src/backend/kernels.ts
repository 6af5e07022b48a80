import * as tf from "@tensorflow/tfjs";
import { avgPoolGrad, maxPoolGrad, poolInfo } from "./pool-grad";
import {
  ConvInfo, PadAttr, conv2dFilterGrad, conv2dFilterGradByConv, conv2dInputGrad, convInfo, depthwiseFilterGrad, depthwiseInputGrad,
} from "./conv-grad";

/**
 * Kernels and gradients that make every chapter layer train on the `wasm` and `cpu` fallbacks,
 * all built from fast existing kernels (see conv-grad.ts):
 *
 * | kernel / gradient | wasm | cpu | why |
 * |---|---|---|---|
 * | Conv2DBackpropFilter | added | replaced | missing on wasm; cpu loops over `TensorBuffer.get` (~434 s per MNIST step); on wasm, stride 1 with ≥ 8 input channels is one conv2d (conv2dFilterGradByConv), otherwise im2col + matMul |
 * | Conv2DBackpropInput | replaced | replaced | slow generic paths on both |
 * | DepthwiseConv2dNativeBackpropFilter / Input | added | replaced | missing on wasm; element loops on cpu |
 * | AvgPoolGrad | replaced | replaced | both divide by the full window where `same` padding cuts it (MNIST CNN: 7x7 -> 4x4) |
 * | MaxPoolGrad | replaced | replaced | wasm loses gradient for some windows; cpu kept consistent with it (first maximum wins) |
 * | ResizeNearestNeighborGrad | — | replaced | cpu's kernel is wrong for batch index >= 1 (UpSampling2D) |
 * | BatchMatMul with transposeA/B | wrapped | — | wasm runs ~1-2 GFLOP/s with the flags, ~22 after an explicit transpose (Dense gradients) |
 * | gradient of Conv2D and DepthwiseConv2dNative | all backends, dilation > 1 only | | tfjs-core has no gradient for dilation > 1 |
 * | `tf.fused.conv2d` while recording gradients | all backends, dilation > 1 and linear activation only | | its custom gradient rejects dilation > 1; Keras-style Conv2D layers with a linear activation take this path |
 */
export const FALLBACK_BACKENDS = ["wasm", "cpu"] as const;

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/** Runs `body` on the kernel's inputs as tensors; tensors wrapped here are released afterwards. */
function withTensors<T>(infos: Info[], body: (...ts: tf.Tensor[]) => T): T {
  const created: tf.Tensor[] = [];
  const tensors = infos.map((info) => {
    if (info instanceof tf.Tensor) return info;
    const t = (tf.engine() as unknown as { makeTensorFromTensorInfo(i: Info): tf.Tensor }).makeTensorFromTensorInfo(info);
    created.push(t);
    return t;
  });
  try {
    return body(...tensors);
  } finally {
    created.forEach((t) => t.dispose());
  }
}

function nhwcOnly(kernel: string, attrs: Attrs): void {
  if (attrs.dataFormat != null && attrs.dataFormat !== "NHWC" && attrs.dataFormat !== "channelsLast") {
    throw new Error(`${kernel}: only NHWC (channelsLast) is supported by the fallback kernel, got ${String(attrs.dataFormat)}`);
  }
}

type KernelBody = (inputs: Record<string, Info>, attrs: Attrs) => tf.Tensor;

const KERNELS: { name: string; backends: readonly string[]; body: KernelBody }[] = [
  {
    name: "Conv2DBackpropFilter",
    backends: FALLBACK_BACKENDS,
    body: ({ x, dy }, attrs) => {
      nhwcOnly("Conv2DBackpropFilter", attrs);
      const info = convInfo(x.shape, attrs.filterShape as number[], attrs.strides as [number, number], attrs.pad as PadAttr, 1, attrs.dimRoundingMode as never);
      const byConv = tf.getBackend() === "wasm" && info.strideHeight === 1 && info.strideWidth === 1 && info.inChannels >= 8;
      return withTensors([x, dy], (xt, dyt) => (byConv ? conv2dFilterGradByConv : conv2dFilterGrad)(xt as tf.Tensor4D, dyt as tf.Tensor4D, info));
    },
  },
  {
    name: "Conv2DBackpropInput",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, filter }, attrs) => {
      nhwcOnly("Conv2DBackpropInput", attrs);
      const info = convInfo(attrs.inputShape as number[], filter.shape, attrs.strides as [number, number], attrs.pad as PadAttr, 1, attrs.dimRoundingMode as never);
      return withTensors([dy, filter], (dyt, ft) => conv2dInputGrad(dyt as tf.Tensor4D, ft as tf.Tensor4D, info));
    },
  },
  {
    name: "DepthwiseConv2dNativeBackpropFilter",
    backends: FALLBACK_BACKENDS,
    body: ({ x, dy }, attrs) => {
      const info = depthwiseInfo(x.shape, attrs.filterShape as number[], attrs);
      return withTensors([x, dy], (xt, dyt) => depthwiseFilterGrad(xt as tf.Tensor4D, dyt as tf.Tensor4D, info));
    },
  },
  {
    name: "DepthwiseConv2dNativeBackpropInput",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, filter }, attrs) => {
      const info = depthwiseInfo(attrs.inputShape as number[], filter.shape, attrs);
      return withTensors([dy, filter], (dyt, ft) => depthwiseInputGrad(dyt as tf.Tensor4D, ft as tf.Tensor4D, info));
    },
  },
  {
    name: "AvgPoolGrad",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, input }, attrs) => {
      const info = poolInfo(input.shape, attrs.filterSize as [number, number], attrs.strides as [number, number], attrs.pad as PadAttr, attrs.dimRoundingMode as never);
      return withTensors([dy], (g) => avgPoolGrad(g as tf.Tensor4D, info));
    },
  },
  {
    name: "MaxPoolGrad",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, input, output }, attrs) => {
      const info = poolInfo(input.shape, attrs.filterSize as [number, number], attrs.strides as [number, number], attrs.pad as PadAttr, attrs.dimRoundingMode as never);
      return withTensors([dy, input, output], (g, x, y) => maxPoolGrad(g as tf.Tensor4D, x as tf.Tensor4D, y as tf.Tensor4D, info));
    },
  },
  {
    name: "ResizeNearestNeighborGrad",
    backends: ["cpu"],
    body: ({ images, dy }, attrs) => withTensors([images, dy], (im, g) => resizeNearestGrad(im as tf.Tensor4D, g as tf.Tensor4D, attrs)),
  },
];

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: Attrs): ConvInfo {
  return convInfo(xShape, filterShape, attrs.strides as [number, number], attrs.pad as PadAttr, (attrs.dilations as [number, number]) ?? 1, attrs.dimRoundingMode as never, true);
}

/**
 * Gradient of nearest-neighbour resizing: each input pixel receives the sum of the output
 * gradients that copied it. The source row/column of every output pixel is read off the forward
 * kernel itself (resizing an index ramp), so alignCorners/halfPixelCenters match exactly; the sums
 * are two matrix products with one-hot selection matrices.
 */
function resizeNearestGrad(images: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, inH, inW, c] = images.shape;
    const [, outH, outW] = dy.shape;
    const alignCorners = Boolean(attrs.alignCorners);
    const halfPixelCenters = Boolean(attrs.halfPixelCenters);
    const source = (inSize: number, outSize: number, rows: boolean) => {
      const ramp = tf.reshape(tf.range(0, inSize, 1, "float32"), rows ? [1, inSize, 1, 1] : [1, 1, inSize, 1]) as tf.Tensor4D;
      const resized = tf.image.resizeNearestNeighbor(ramp, rows ? [outSize, 1] : [1, outSize], alignCorners, halfPixelCenters);
      return tf.oneHot(tf.cast(tf.reshape(resized, [outSize]), "int32"), inSize, 1, 0, "float32"); // [out, in]
    };
    const selRows = tf.transpose(source(inH, outH, true)); // [inH, outH]
    const selCols = source(inW, outW, false); // [outW, inW]
    const byRows = tf.matMul(tf.tile(tf.expandDims(selRows, 0), [b, 1, 1]) as tf.Tensor3D, tf.reshape(dy, [b, outH, outW * c]) as tf.Tensor3D); // [b, inH, outW*c]
    const colsLast = tf.reshape(tf.transpose(tf.reshape(byRows, [b, inH, outW, c]), [0, 1, 3, 2]), [b * inH * c, outW]) as tf.Tensor2D;
    const summed = tf.matMul(colsLast, selCols); // [b*inH*c, inW]
    return tf.transpose(tf.reshape(summed, [b, inH, c, inW]), [0, 1, 3, 2]) as tf.Tensor4D;
  });
}

/**
 * Wraps wasm's BatchMatMul: operands flagged for transposition are transposed explicitly first,
 * then the original kernel runs without flags (its fast path).
 */
function preTransposingMatMul(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return original(args);
    const { a, b } = args.inputs as Record<string, Info>;
    return withTensors([a, b], (at, bt) => tf.tidy(() => {
      const swapLast = (t: tf.Tensor) => tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]);
      return tf.matMul(transposeA ? swapLast(at) : at, transposeB ? swapLast(bt) : bt);
    }));
  };
}

const ours = new WeakSet<tf.KernelFunc | tf.GradFunc>();

/**
 * Registers the fallback kernels for `wasm` and `cpu` and the dilation-aware convolution
 * gradients. Idempotent, and safe to repeat: loading another copy of the tfjs bundle (danfojs-node
 * does, through its `@tensorflow/tfjs-node` alias) re-registers tfjs's stock gradients, so
 * `initBackend` calls this every time.
 */
export function registerFallbackKernels(): void {
  for (const { name, backends, body } of KERNELS) {
    for (const backendName of backends) {
      const existing = tf.getKernel(name, backendName);
      if (existing && ours.has(existing.kernelFunc)) continue;
      if (existing) tf.unregisterKernel(name, backendName);
      const kernelFunc: tf.KernelFunc = ({ inputs, attrs }) => body(inputs as Record<string, Info>, attrs as Attrs);
      ours.add(kernelFunc);
      tf.registerKernel({ kernelName: name, backendName, kernelFunc });
    }
  }
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (matMul && !ours.has(matMul.kernelFunc)) {
    const kernelFunc = preTransposingMatMul(matMul.kernelFunc);
    ours.add(kernelFunc);
    tf.unregisterKernel("BatchMatMul", "wasm");
    tf.registerKernel({ ...matMul, kernelFunc });
  }
  unfuseDilatedConv2d();
  registerDilatedGradient("Conv2D", (x, filter, dy, attrs) => {
    const info = convInfo(x.shape, filter.shape, attrs.strides as [number, number], attrs.pad as PadAttr, attrs.dilations as [number, number], attrs.dimRoundingMode as never);
    return { x: () => conv2dInputGrad(dy, filter, info), filter: () => conv2dFilterGrad(x, dy, info) };
  });
  registerDilatedGradient("DepthwiseConv2dNative", (x, filter, dy, attrs) => {
    const info = depthwiseInfo(x.shape, filter.shape, attrs);
    return { x: () => depthwiseInputGrad(dy, filter, info), filter: () => depthwiseFilterGrad(x, dy, info) };
  });
}

/**
 * `tf.fused.conv2d` (used by `tf.layers.conv2d`) fuses bias and a linear activation even while
 * gradients are recorded, and its custom gradient throws for dilation > 1. In that case only,
 * compute it unfused (conv2d + bias), whose gradient is registered above.
 */
function unfuseDilatedConv2d(): void {
  const fused = tf.fused as unknown as { conv2d: typeof tf.fused.conv2d };
  if (ours.has(fused.conv2d as never)) return;
  const original = fused.conv2d;
  const wrapped: typeof tf.fused.conv2d = (args) => {
    const d = args.dilations ?? 1;
    const dilated = Array.isArray(d) ? d.some((v) => v > 1) : d > 1;
    const recording = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
    const linear = args.activation == null || args.activation === "linear";
    if (!(dilated && recording && linear)) return original(args);
    return tf.tidy(() => {
      const y = tf.conv2d(args.x, args.filter, args.strides, args.pad, args.dataFormat, args.dilations, args.dimRoundingMode);
      return args.bias ? tf.add(y, args.bias) : y;
    });
  };
  ours.add(wrapped as never);
  fused.conv2d = wrapped;
}

/**
 * Keeps tfjs-core's gradient of `kernelName` for dilation 1 and uses ours for dilation > 1,
 * where core's gradient throws ("dilation rates greater than 1 are not yet supported").
 */
function registerDilatedGradient(
  kernelName: string,
  dilated: (x: tf.Tensor4D, filter: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs) => Record<string, () => tf.Tensor>,
): void {
  const original = tf.getGradient(kernelName);
  if (!original) throw new Error(`registerFallbackKernels: tfjs has no gradient for ${kernelName} to extend`);
  if (ours.has(original.gradFunc)) return;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const d = (attrs as Attrs).dilations as number | [number, number] | undefined;
    const isDilated = Array.isArray(d) ? d.some((v) => v > 1) : (d ?? 1) > 1;
    if (!isDilated) return original.gradFunc(dy, saved, attrs);
    const [x, filter] = saved as tf.Tensor4D[];
    return dilated(x, filter, dy as tf.Tensor4D, attrs as Attrs);
  };
  ours.add(gradFunc);
  tf.registerGradient({ kernelName, inputsToSave: ["x", "filter"], gradFunc });
}
