import * as tf from "@tensorflow/tfjs";
import { ConvInfo, PadAttr, depthwiseInputGrad } from "./conv-grad";

/**
 * Pooling gradients built from fast ops. tfjs 4.22's own kernels are wrong in two places the
 * chapter's networks hit: AvgPoolGrad (wasm and cpu) divides by the full window where `same`
 * padding cuts it (the forward pass averages over the valid cells only, like Keras), and wasm's
 * MaxPoolGrad loses gradient for some windows. Both are scatters of the output gradient over the
 * pooling windows, i.e. the input-gradient of a depthwise convolution with a constant filter.
 */

/** Geometry of a 2-D pooling. */
export function poolInfo(
  xShape: number[],
  filterSize: number | [number, number],
  strides: number | [number, number],
  pad: PadAttr,
  dimRoundingMode?: "floor" | "round" | "ceil",
): ConvInfo {
  return tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/**
 * A depthwise filter `[kh, kw, channels, kh * kw]`: output
 * channel k of each input channel picks tap k (row-major).
 */
function tapFilter(info: ConvInfo): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw, inChannels: c } = info;
  const taps = kh * kw;
  const values = new Float32Array(taps * c * taps);
  for (let k = 0; k < taps; k++) for (let ch = 0; ch < c; ch++) values[(k * c + ch) * taps + k] = 1;
  return tf.tensor4d(values, [kh, kw, c, taps]);
}

/**
 * As a depthwise convolution, the pool's geometry with one
 * output channel per input channel and tap multiplier.
 */
function asDepthwise(info: ConvInfo, multiplier: number): ConvInfo {
  return { ...info, outChannels: info.inChannels * multiplier };
}

/**
 * Number of input cells inside each pooling window (windows
 * cut by padding hold fewer): `[1, outH, outW, 1]`.
 */
function windowCounts(info: ConvInfo): tf.Tensor4D {
  const count = (out: number, stride: number, k: number, pad: number, size: number) =>
    Array.from({ length: out }, (_, o) => {
      const start = o * stride - pad;
      return Math.min(start + k, size) - Math.max(start, 0);
    });
  const rows = count(
    info.outHeight,
    info.strideHeight,
    info.filterHeight,
    info.padInfo.top,
    info.inHeight,
  );
  const cols = count(
    info.outWidth,
    info.strideWidth,
    info.filterWidth,
    info.padInfo.left,
    info.inWidth,
  );
  return tf.tensor4d(
    rows.flatMap((r) => cols.map((c) => r * c)),
    [1, info.outHeight, info.outWidth, 1],
  );
}

/**
 * Windows that tile the input exactly (stride = pool size, no padding, sizes divisible: the
 * chapter's 2x2 pools on even sizes). Then every cell belongs to exactly one window, and
 * nearest-neighbour upsampling (a fast kernel) brings per-window values back to the cells.
 */
function tilesExactly(info: ConvInfo): boolean {
  const { top, bottom, left, right } = info.padInfo;
  return (
    info.strideHeight === info.filterHeight &&
    info.strideWidth === info.filterWidth &&
    top === 0 &&
    bottom === 0 &&
    left === 0 &&
    right === 0 &&
    info.outHeight * info.filterHeight === info.inHeight &&
    info.outWidth * info.filterWidth === info.inWidth
  );
}

/** Per-window values copied to every cell of their window (exactly tiled inputs only). */
function toCells(t: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.image.resizeNearestNeighbor(t, [info.inHeight, info.inWidth]);
}

/** Gradient of average pooling: each window's gradient shared equally among its valid cells. */
export function avgPoolGrad(dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    if (tilesExactly(info))
      return toCells(tf.div(dy, info.filterHeight * info.filterWidth) as tf.Tensor4D, info);
    const ones = tf.ones([info.filterHeight, info.filterWidth, info.inChannels, 1]) as tf.Tensor4D;
    return depthwiseInputGrad(tf.div(dy, windowCounts(info)), ones, asDepthwise(info, 1));
  });
}

/**
 * Gradient of max pooling: each window's gradient goes to the first cell (row-major) holding the
 * window's maximum, as in TensorFlow.
 */
export function maxPoolGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  info: ConvInfo,
): tf.Tensor4D {
  return tf.tidy(() => {
    if (tilesExactly(info)) {
      const { inHeight: h, inWidth: w, filterHeight: kh, filterWidth: kw } = info;
      // rank of each cell inside its window, highest first in row-major order: kh*kw, ..., 1
      const rank = tf.tensor4d(
        Float32Array.from(
          { length: h * w },
          (_, p) => kh * kw - ((Math.floor(p / w) % kh) * kw + ((p % w) % kw)),
        ),
        [1, h, w, 1],
      );
      // 0 where not a maximum
      const score = tf.mul(tf.cast(tf.equal(x, toCells(y, info)), "float32"), rank);
      const first = tf.equal(
        score,
        toCells(tf.maxPool(score as tf.Tensor4D, [kh, kw], [kh, kw], "valid"), info),
      );
      return tf.where(
        tf.logicalAnd(first, tf.greater(score, 0)),
        toCells(dy, info),
        tf.zerosLike(x),
      ) as tf.Tensor4D;
    }
    const { top, bottom, left, right } = info.padInfo;
    const xp = tf.pad(
      x,
      [
        [0, 0],
        [Math.max(top, 0), Math.max(bottom, 0)],
        [Math.max(left, 0), Math.max(right, 0)],
        [0, 0],
      ],
      -Infinity,
    );
    let taken = tf.zerosLike(y).cast("bool");
    const routed: tf.Tensor[] = [];
    for (let ky = 0; ky < info.filterHeight; ky++) {
      for (let kx = 0; kx < info.filterWidth; kx++) {
        const tap = tf.stridedSlice(
          xp,
          [0, ky, kx, 0],
          [
            info.batchSize,
            ky + (info.outHeight - 1) * info.strideHeight + 1,
            kx + (info.outWidth - 1) * info.strideWidth + 1,
            info.inChannels,
          ],
          [1, info.strideHeight, info.strideWidth, 1],
        );
        const first = tf.logicalAnd(tf.equal(tap, y), tf.logicalNot(taken));
        taken = tf.logicalOr(taken, first);
        routed.push(tf.where(first, dy, tf.zerosLike(dy)));
      }
    }
    const taps = routed.length;
    const stacked = tf.reshape(tf.stack(routed, 4), [
      info.batchSize,
      info.outHeight,
      info.outWidth,
      info.inChannels * taps,
    ]) as tf.Tensor4D;
    return depthwiseInputGrad(stacked, tapFilter(info), asDepthwise(info, taps));
  });
}
