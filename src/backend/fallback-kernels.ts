import * as tf from "@tensorflow/tfjs";
import { avgPoolGrad, maxPoolGrad, poolInfo } from "./pool-grad";
import {
  ConvInfo,
  PadAttr,
  conv2dFilterGrad,
  conv2dFilterGradByConv,
  conv2dInputGrad,
  convInfo,
  depthwiseFilterGrad,
  depthwiseInputGrad,
} from "./conv-grad";
import { ours, withTensors, wrapKernel } from "./registry";
import { conv2dFilterGradSimd } from "./simd-filter-grad";

/**
 * Kernels and gradients that make every chapter layer train on the `wasm` and `cpu` fallbacks,
 * all built from fast existing kernels (see conv-grad.ts). Each entry: kernel or gradient (what
 * we do on wasm / on cpu): why.
 *
 * - Conv2DBackpropFilter (wasm: added / cpu: replaced): missing on wasm; cpu loops over
 *   `TensorBuffer.get` (~434 s per MNIST step); on wasm a SIMD kernel of our own
 *   (simd-filter-grad.ts, output channels a multiple of 4), else one conv2d (stride 1, ≥ 8 input
 *   channels: conv2dFilterGradByConv), else im2col + matMul.
 * - Conv2DBackpropInput (replaced / replaced): slow generic paths on both.
 * - DepthwiseConv2dNativeBackpropFilter / Input (added / replaced): missing on wasm; element
 *   loops on cpu.
 * - AvgPoolGrad (replaced / replaced): both divide by the full window where `same` padding cuts
 *   it (MNIST CNN: 7x7 -> 4x4); so does webgpu's, replaced too.
 * - MaxPoolGrad (replaced / replaced): wasm loses gradient for some windows; cpu and webgpu kept
 *   consistent with it (first maximum wins; webgpu's own gives a tied window's gradient to its
 *   last).
 * - ResizeNearestNeighborGrad (— / replaced): cpu's kernel is wrong for batch index >= 1
 *   (UpSampling2D).
 * - BatchMatMul with transposeA/B (wrapped / —): wasm runs ~1-2 GFLOP/s with the flags, ~22
 *   after an explicit transpose (Dense gradients); A·Bᵀ with a large B as (B·Aᵀ)ᵀ.
 * - Sum and Mean over leading axes (wrapped / —): wasm transposes first (30 ms for a
 *   128x28x28x32 bias gradient or BatchNorm mean); Xᵀ·1 with the stock transposeA path takes
 *   5 ms.
 * - Identity (wrapped / —): wasm copies; tfjs clones every tensor saved for the backward pass
 *   (one full copy per saved activation).
 * - Tile (wrapped / wrapped): element-by-element JavaScript on both (BatchNorm's gradient tiles
 *   its statistics: 55 ms for 64x14x14x64); concat per tiled axis: 5 ms.
 * - gradients of Relu and Multiply (all backends): tfjs-core's cast float32 tensors to float32:
 *   a full copy per ReLU and per dropout mask.
 * - gradient of Mean (all backends): tfjs-core builds a full-size `tf.ones` in JavaScript and
 *   uploads it (BatchNorm's batch mean).
 * - gradient of Conv2D and DepthwiseConv2dNative (all backends, dilation > 1 only): tfjs-core
 *   has no gradient for dilation > 1.
 * - `tf.fused.conv2d` while recording gradients (all backends, dilation > 1 and linear
 *   activation only): its custom gradient rejects dilation > 1; Keras-style Conv2D layers with a
 *   linear activation take this path.
 */
export const FALLBACK_BACKENDS = ["wasm", "cpu"] as const;

/** The backends whose pooling gradients are replaced (see the list above). */
const POOL_GRAD_BACKENDS = [...FALLBACK_BACKENDS, "webgpu"] as const;

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;

function nhwcOnly(kernel: string, attrs: Attrs): void {
  if (
    attrs.dataFormat != null &&
    attrs.dataFormat !== "NHWC" &&
    attrs.dataFormat !== "channelsLast"
  ) {
    throw new Error(
      `${kernel}: only NHWC (channelsLast) is supported by the fallback kernel, ` +
        `got ${String(attrs.dataFormat)}`,
    );
  }
}

type KernelBody = (inputs: Record<string, Info>, attrs: Attrs) => tf.Tensor;

const KERNELS: { name: string; backends: readonly string[]; body: KernelBody }[] = [
  {
    name: "Conv2DBackpropFilter",
    backends: FALLBACK_BACKENDS,
    body: ({ x, dy }, attrs) => {
      nhwcOnly("Conv2DBackpropFilter", attrs);
      const info = convInfo(
        x.shape,
        attrs.filterShape as number[],
        attrs.strides as [number, number],
        attrs.pad as PadAttr,
        1,
        attrs.dimRoundingMode as never,
      );
      return withTensors([x, dy], (xt, dyt) =>
        filterGrad(xt as tf.Tensor4D, dyt as tf.Tensor4D, info),
      );
    },
  },
  {
    name: "Conv2DBackpropInput",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, filter }, attrs) => {
      nhwcOnly("Conv2DBackpropInput", attrs);
      const info = convInfo(
        attrs.inputShape as number[],
        filter.shape,
        attrs.strides as [number, number],
        attrs.pad as PadAttr,
        1,
        attrs.dimRoundingMode as never,
      );
      return withTensors([dy, filter], (dyt, ft) =>
        conv2dInputGrad(dyt as tf.Tensor4D, ft as tf.Tensor4D, info),
      );
    },
  },
  {
    name: "DepthwiseConv2dNativeBackpropFilter",
    backends: FALLBACK_BACKENDS,
    body: ({ x, dy }, attrs) => {
      const info = depthwiseInfo(x.shape, attrs.filterShape as number[], attrs);
      return withTensors([x, dy], (xt, dyt) =>
        depthwiseFilterGrad(xt as tf.Tensor4D, dyt as tf.Tensor4D, info),
      );
    },
  },
  {
    name: "DepthwiseConv2dNativeBackpropInput",
    backends: FALLBACK_BACKENDS,
    body: ({ dy, filter }, attrs) => {
      const info = depthwiseInfo(attrs.inputShape as number[], filter.shape, attrs);
      return withTensors([dy, filter], (dyt, ft) =>
        depthwiseInputGrad(dyt as tf.Tensor4D, ft as tf.Tensor4D, info),
      );
    },
  },
  {
    name: "AvgPoolGrad",
    backends: POOL_GRAD_BACKENDS,
    body: ({ dy, input }, attrs) => {
      const info = poolInfo(
        input.shape,
        attrs.filterSize as [number, number],
        attrs.strides as [number, number],
        attrs.pad as PadAttr,
        attrs.dimRoundingMode as never,
      );
      return withTensors([dy], (g) => avgPoolGrad(g as tf.Tensor4D, info));
    },
  },
  {
    name: "MaxPoolGrad",
    backends: POOL_GRAD_BACKENDS,
    body: ({ dy, input, output }, attrs) => {
      const info = poolInfo(
        input.shape,
        attrs.filterSize as [number, number],
        attrs.strides as [number, number],
        attrs.pad as PadAttr,
        attrs.dimRoundingMode as never,
      );
      return withTensors([dy, input, output], (g, x, y) =>
        maxPoolGrad(g as tf.Tensor4D, x as tf.Tensor4D, y as tf.Tensor4D, info),
      );
    },
  },
  {
    name: "ResizeNearestNeighborGrad",
    backends: ["cpu"],
    body: ({ images, dy }, attrs) =>
      withTensors([images, dy], (im, g) =>
        resizeNearestGrad(im as tf.Tensor4D, g as tf.Tensor4D, attrs),
      ),
  },
];

/**
 * The fastest filter gradient that applies: the SIMD kernel (wasm, output channels a multiple of
 * 4), else on wasm one XNNPACK convolution (stride 1, ≥ 8 input channels), else im2col + matMul.
 */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  const simd = conv2dFilterGradSimd(x, dy, info);
  if (simd) return simd;
  const byConv =
    tf.getBackend() === "wasm" &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inChannels >= 8;
  return (byConv ? conv2dFilterGradByConv : conv2dFilterGrad)(x, dy, info);
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: Attrs): ConvInfo {
  return convInfo(
    xShape,
    filterShape,
    attrs.strides as [number, number],
    attrs.pad as PadAttr,
    (attrs.dilations as [number, number]) ?? 1,
    attrs.dimRoundingMode as never,
    true,
  );
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
      const ramp = tf.reshape(
        tf.range(0, inSize, 1, "float32"),
        rows ? [1, inSize, 1, 1] : [1, 1, inSize, 1],
      ) as tf.Tensor4D;
      const resized = tf.image.resizeNearestNeighbor(
        ramp,
        rows ? [outSize, 1] : [1, outSize],
        alignCorners,
        halfPixelCenters,
      );
      const indices = tf.cast(tf.reshape(resized, [outSize]), "int32");
      return tf.oneHot(indices, inSize, 1, 0, "float32"); // [out, in]
    };
    const selRows = tf.transpose(source(inH, outH, true)); // [inH, outH]
    const selCols = source(inW, outW, false); // [outW, inW]
    const byRows = tf.matMul(
      tf.tile(tf.expandDims(selRows, 0), [b, 1, 1]) as tf.Tensor3D,
      tf.reshape(dy, [b, outH, outW * c]) as tf.Tensor3D,
    ); // [b, inH, outW*c]
    const colsLast = tf.reshape(tf.transpose(tf.reshape(byRows, [b, inH, outW, c]), [0, 1, 3, 2]), [
      b * inH * c,
      outW,
    ]) as tf.Tensor2D;
    const summed = tf.matMul(colsLast, selCols); // [b*inH*c, inW]
    return tf.transpose(tf.reshape(summed, [b, inH, c, inW]), [0, 1, 3, 2]) as tf.Tensor4D;
  });
}

/**
 * The stock wasm BatchMatMul, for the one case where its transposeA path is the fast one
 * ({@link reducingByMatMul}).
 */
let stockWasmMatMul: tf.KernelFunc | undefined;

function swapLast(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]);
}

/**
 * Wraps wasm's BatchMatMul: operands flagged for transposition are transposed explicitly
 * first, then the original kernel runs without flags (its fast path). For A·Bᵀ with B the larger
 * operand (a Dense layer's input gradient dY·Wᵀ) it computes (B·Aᵀ)ᵀ instead: XNNPACK
 * repacks the right operand on every call, so transposing and repacking the small one is cheaper.
 */
function preTransposingMatMul(original: tf.KernelFunc): tf.KernelFunc {
  stockWasmMatMul = original;
  return (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return original(args);
    const { a, b } = args.inputs as Record<string, Info>;
    return withTensors([a, b], (at, bt) =>
      tf.tidy(() => {
        if (transposeB && !transposeA) {
          const resultSize = (at.size / at.shape[at.rank - 1]) * bt.shape[bt.rank - 2];
          // floats transposed or packed: A twice and the result when swapped, else B twice
          if (2 * at.size + resultSize < 2 * bt.size) {
            return swapLast(tf.matMul(bt, swapLast(at)));
          }
        }
        return tf.matMul(transposeA ? swapLast(at) : at, transposeB ? swapLast(bt) : bt);
      }),
    );
  };
}

/**
 * Wraps wasm's Identity: shares the input's memory (reference-counted, as the cpu backend and
 * wasm's own Reshape do) instead of copying it. tfjs clones every tensor it saves for the
 * backward pass; tensors are immutable and `Variable.assign` swaps memory rather than writing
 * into it, so sharing is safe and saves one copy of every saved activation.
 */
function sharingIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as Record<string, Info>;
    if (x.dtype === "string") return original(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * Wraps Tile: the stock wasm and cpu kernels visit the output element by element in JavaScript
 * (BatchNorm's gradient tiles its per-channel statistics to the activation's shape: 55 ms for a
 * 64x14x14x64 tile); concatenating copies along each tiled axis takes 5 ms.
 */
function concatenatingTile(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as Record<string, Info>;
    const { reps } = args.attrs as { reps: number[] };
    if (x.dtype === "string" || reps.some((r) => r < 1)) return original(args);
    return withTensors([x], (xt) =>
      tf.tidy(() =>
        reps.reduce((t, r, axis) => (r > 1 ? tf.concat(Array<tf.Tensor>(r).fill(t), axis) : t), xt),
      ),
    );
  };
}

/** Smallest input (floats) for which {@link reducingByMatMul} takes over. */
const REDUCE_BY_MATMUL_MIN = 65536;

/**
 * Wraps wasm's Sum or Mean: a float32 reduction over the leading axes (bias gradients, BatchNorm
 * statistics) runs as Xᵀ·1 (scaled by 1/rows for Mean), the stock BatchMatMul with transposeA,
 * which neither transposes X nor repacks it: 5 ms instead of 30 for a 128x28x28x32 tensor, and
 * closer to a float64 sum (max relative error 1.5e-6 against 9e-6 measured).
 */
function reducingByMatMul(mean: boolean): (original: tf.KernelFunc) => tf.KernelFunc {
  return (original) => (args) => {
    const { x } = args.inputs as Record<string, Info>;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims?: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length < x.shape.length && axes.every((ax, i) => ax === i);
    const size = tf.util.sizeFromShape(x.shape);
    if (!stockWasmMatMul || !leading || x.dtype !== "float32" || size < REDUCE_BY_MATMUL_MIN)
      return original(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const rest = x.shape.slice(axes.length);
    return withTensors([x], (xt) =>
      tf.tidy(() => {
        const a = tf.reshape(xt, [1, rows, size / rows]);
        const weights = tf.fill([1, rows, 1], mean ? 1 / rows : 1);
        const info = stockWasmMatMul!({
          inputs: { a, b: weights },
          attrs: { transposeA: true, transposeB: false },
          backend: args.backend,
        }) as Info;
        return withTensors([info], (t) =>
          tf.reshape(t, keepDims ? [...axes.map(() => 1), ...rest] : rest),
        );
      }),
    );
  };
}

/**
 * Registers the fallback kernels for `wasm` and `cpu` (and webgpu's pooling gradients once
 * tfjs-webgpu is loaded: registering first would only make it warn and override ours) and the
 * dilation-aware convolution gradients. Idempotent, and safe to repeat: loading another copy of
 * the tfjs bundle (danfojs-node does, through its `@tensorflow/tfjs-node` alias) re-registers
 * tfjs's stock gradients, so `initBackend` calls this every time.
 */
export function registerFallbackKernels(): void {
  for (const { name, backends, body } of KERNELS) {
    for (const backendName of backends) {
      if (!tf.findBackendFactory(backendName)) continue;
      const existing = tf.getKernel(name, backendName);
      if (existing && ours.has(existing.kernelFunc)) continue;
      if (existing) tf.unregisterKernel(name, backendName);
      const kernelFunc: tf.KernelFunc = ({ inputs, attrs }) =>
        body(inputs as Record<string, Info>, attrs as Attrs);
      ours.add(kernelFunc);
      tf.registerKernel({ kernelName: name, backendName, kernelFunc });
    }
  }
  wrapKernel("BatchMatMul", "wasm", preTransposingMatMul);
  wrapKernel("Sum", "wasm", reducingByMatMul(false));
  wrapKernel("Mean", "wasm", reducingByMatMul(true));
  wrapKernel("Identity", "wasm", sharingIdentity);
  for (const backendName of FALLBACK_BACKENDS) wrapKernel("Tile", backendName, concatenatingTile);
  unfuseDilatedConv2d();
  registerCastFreeGradients();
  registerDilatedGradient("Conv2D", (x, filter, dy, attrs) => {
    const info = convInfo(
      x.shape,
      filter.shape,
      attrs.strides as [number, number],
      attrs.pad as PadAttr,
      attrs.dilations as [number, number],
      attrs.dimRoundingMode as never,
    );
    return { x: () => conv2dInputGrad(dy, filter, info), filter: () => filterGrad(x, dy, info) };
  });
  registerDilatedGradient("DepthwiseConv2dNative", (x, filter, dy, attrs) => {
    const info = depthwiseInfo(x.shape, filter.shape, attrs);
    return {
      x: () => depthwiseInputGrad(dy, filter, info),
      filter: () => depthwiseFilterGrad(x, dy, info),
    };
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
    const recording =
      (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
    const linear = args.activation == null || args.activation === "linear";
    if (!(dilated && recording && linear)) return original(args);
    return tf.tidy(() => {
      const y = tf.conv2d(
        args.x,
        args.filter,
        args.strides,
        args.pad,
        args.dataFormat,
        args.dilations,
        args.dimRoundingMode,
      );
      return args.bias ? tf.add(y, args.bias) : y;
    });
  };
  ours.add(wrapped as never);
  fused.conv2d = wrapped;
}

/** `t` as float32, without the copy that `tf.cast` makes of a tensor that already is. */
function asFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === "float32" ? t : tf.cast(t, "float32");
}

/**
 * ReLU's and Multiply's gradients as tfjs-core computes them, minus its casts of float32 tensors
 * to float32: each is a full copy (a dropout mask, a ReLU step), 5-10 ms per 128x28x28x32 tensor.
 */
function registerCastFreeGradients(): void {
  register("Relu", ["x"], (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, asFloat(tf.step(x))) }));
  register("Multiply", ["a", "b"], (dy, [a, b]) => {
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const side = (self: tf.Tensor, other: tf.Tensor) => () => {
      const product = tf.mul(dy as tf.Tensor, asFloat(other));
      const axes = tf.backend_util.getReductionAxes(self.shape, outShape);
      return axes.length > 0 ? tf.reshape(tf.sum(product, axes), self.shape) : product;
    };
    return { a: side(a, b), b: side(b, a) };
  });
  // tfjs-core multiplies dy by `tf.ones(x.shape)`, a full-size array filled in JavaScript and
  // uploaded (BatchNorm's batch mean: 51 MB per Fashion layer, ~1 s of a native step); onesLike
  // fills it in the backend, and dividing the small dy first gives the same values.
  register("Mean", ["x"], (dy, [x], attrs) => {
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const reduceSize = axes.reduce((n, a) => n * x.shape[a], 1);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    return {
      x: () => tf.mul(tf.div(tf.reshape(dy as tf.Tensor, expanded), reduceSize), tf.onesLike(x)),
    };
  });
}

/** Registers `gradFunc` as the gradient of `kernelName` unless one of ours already is. */
function register(kernelName: string, inputsToSave: string[], gradFunc: tf.GradFunc): void {
  const existing = tf.getGradient(kernelName);
  if (existing && ours.has(existing.gradFunc)) return;
  ours.add(gradFunc);
  tf.registerGradient({ kernelName, inputsToSave, gradFunc });
}

/**
 * Keeps tfjs-core's gradient of `kernelName` for dilation 1 and uses ours for dilation > 1,
 * where core's gradient throws ("dilation rates greater than 1 are not yet supported").
 */
function registerDilatedGradient(
  kernelName: string,
  dilated: (
    x: tf.Tensor4D,
    filter: tf.Tensor4D,
    dy: tf.Tensor4D,
    attrs: Attrs,
  ) => Record<string, () => tf.Tensor>,
): void {
  const original = tf.getGradient(kernelName);
  if (!original)
    throw new Error(`registerFallbackKernels: tfjs has no gradient for ${kernelName} to extend`);
  if (ours.has(original.gradFunc)) return;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const d = (attrs as Attrs).dilations as number | [number, number] | undefined;
    const isDilated = Array.isArray(d) ? d.some((v) => v > 1) : (d ?? 1) > 1;
    if (!isDilated) return original.gradFunc(dy, saved, attrs);
    const [x, filter] = saved as tf.Tensor4D[];
    return dilated(x, filter, dy as tf.Tensor4D, attrs as Attrs);
  };
  register(kernelName, ["x", "filter"], gradFunc);
}
