import { Matrix, zeros } from "../core/matrix";
import { Padding, Pair, axisGeometry, pair } from "./geometry";

/**
 * From-scratch reference implementations with explicit loops. Conventions throughout:
 * row-major matrices, indices from 0, output pixel (i, j) reads input rows
 * `i * strideRows + p * dilationRows - padTop` (and likewise columns), cells outside the image
 * read as 0, and "convolution" means cross-correlation (no kernel flip), as in deep learning.
 */

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  strides?: Pair;
  padding?: Padding;
  dilation?: Pair;
  /** Counts the multiplications actually performed (padding cells are skipped, so not counted). */
  counter?: OpCounter;
}

/** Tally of multiply-accumulate operations, filled by the reference functions. */
export interface OpCounter {
  multiplies: number;
}

/**
 * Single-channel 2-D convolution with strides, valid/same padding and dilation:
 * `Y[i][j] = sum_p sum_q X[i*sr + p*dr - top][j*sc + q*dc - left] * k[p][q]`.
 */
export function conv2d(x: Matrix, k: Matrix, options: Conv2dOptions = {}): Matrix {
  const [sr, sc] = pair(options.strides ?? 1);
  const [dr, dc] = pair(options.dilation ?? 1);
  const padding = options.padding ?? "valid";
  const gr = axisGeometry(x.rows, k.rows, sr, dr, padding);
  const gc = axisGeometry(x.cols, k.cols, sc, dc, padding);
  const y = zeros(gr.out, gc.out);
  for (let i = 0; i < gr.out; i++) {
    for (let j = 0; j < gc.out; j++) {
      let s = 0;
      for (let p = 0; p < k.rows; p++) {
        const r = i * sr + p * dr - gr.padBefore;
        if (r < 0 || r >= x.rows) continue;
        for (let q = 0; q < k.cols; q++) {
          const c = j * sc + q * dc - gc.padBefore;
          if (c < 0 || c >= x.cols) continue;
          s += x.data[r * x.cols + c] * k.data[p * k.cols + q];
          if (options.counter) options.counter.multiplies++;
        }
      }
      y.data[i * y.cols + j] = s;
    }
  }
  return y;
}

/**
 * Multi-channel convolution: output channel o is the sum over input channels c of
 * `conv2d(x[c], kernels[o][c])` (kernels indexed [output][input]).
 */
export function conv2dChannels(
  x: Matrix[],
  kernels: Matrix[][],
  options: Conv2dOptions = {},
): Matrix[] {
  return kernels.map((perInput, o) => {
    if (perInput.length !== x.length)
      throw new Error(
        `conv2dChannels: output ${o} has ${perInput.length} kernels for ${x.length} input channels`,
      );
    return perInput.map((k, c) => conv2d(x[c], k, options)).reduce(addMatrices);
  });
}

/** Depthwise convolution: channel c convolved with its own kernel (depth multiplier 1). */
export function depthwiseConv2d(
  x: Matrix[],
  kernels: Matrix[],
  options: Conv2dOptions = {},
): Matrix[] {
  if (kernels.length !== x.length)
    throw new Error(`depthwiseConv2d: ${kernels.length} kernels for ${x.length} channels`);
  return x.map((ch, c) => conv2d(ch, kernels[c], options));
}

/**
 * Depthwise-separable convolution (Xception): a depthwise convolution, then a 1x1 convolution
 * mixing channels, `out[o] = sum_c pointwise[o][c] * depthwise[c]`.
 */
export function depthwiseSeparableConv2d(
  x: Matrix[],
  depthKernels: Matrix[],
  pointwise: number[][],
  options: Conv2dOptions = {},
): Matrix[] {
  const d = depthwiseConv2d(x, depthKernels, options);
  return pointwise.map((w) => {
    if (w.length !== d.length)
      throw new Error(
        `depthwiseSeparableConv2d: pointwise row has ${w.length} weights for ${d.length} channels`,
      );
    return d.map((m, c) => scale(m, w[c])).reduce(addMatrices);
  });
}

/** Options of {@link conv2dTranspose}. */
export interface Conv2dTransposeOptions {
  strides?: Pair;
  padding?: Padding;
  /**
   * Size of the image the matching forward convolution read
   * (default: rows*sr x cols*sc for same, (rows-1)*sr+k for valid).
   */
  outputShape?: [number, number];
}

/**
 * Transposed convolution: the adjoint of the strided convolution, by scatter-add. Every input
 * value `y[i][j]` adds `y[i][j] * k[p][q]` to output cell `(i*sr + p - top, j*sc + q - left)`.
 * Satisfies `<conv2d(x, k), y> = <x, conv2dTranspose(y, k)>` for every x and y.
 */
export function conv2dTranspose(
  y: Matrix,
  k: Matrix,
  options: Conv2dTransposeOptions = {},
): Matrix {
  const [sr, sc] = pair(options.strides ?? 1);
  const padding = options.padding ?? "valid";
  const [outRows, outCols] =
    options.outputShape ??
    (padding === "same"
      ? [y.rows * sr, y.cols * sc]
      : [(y.rows - 1) * sr + k.rows, (y.cols - 1) * sc + k.cols]);
  const gr = axisGeometry(outRows, k.rows, sr, 1, padding);
  const gc = axisGeometry(outCols, k.cols, sc, 1, padding);
  if (gr.out !== y.rows || gc.out !== y.cols) {
    throw new Error(
      `conv2dTranspose: a ${outRows}x${outCols} output convolves to ${gr.out}x${gc.out}, ` +
        `not the input's ${y.rows}x${y.cols}`,
    );
  }
  const x = zeros(outRows, outCols);
  for (let i = 0; i < y.rows; i++) {
    for (let j = 0; j < y.cols; j++) {
      const v = y.data[i * y.cols + j];
      for (let p = 0; p < k.rows; p++) {
        const r = i * sr + p - gr.padBefore;
        if (r < 0 || r >= outRows) continue;
        for (let q = 0; q < k.cols; q++) {
          const c = j * sc + q - gc.padBefore;
          if (c >= 0 && c < outCols) x.data[r * outCols + c] += v * k.data[p * k.cols + q];
        }
      }
    }
  }
  return x;
}

/** Options of {@link pool2d}. */
export interface Pool2dOptions {
  size?: Pair;
  strides?: Pair;
  padding?: Padding;
}

/**
 * Max or average pooling. Windows follow the convolution geometry; padded cells are ignored
 * (max over the valid cells; average divides by the number of valid cells, as Keras does).
 */
export function pool2d(x: Matrix, op: "max" | "avg", options: Pool2dOptions = {}): Matrix {
  const [kr, kc] = pair(options.size ?? 2);
  const [sr, sc] = pair(options.strides ?? options.size ?? 2);
  const padding = options.padding ?? "valid";
  const gr = axisGeometry(x.rows, kr, sr, 1, padding);
  const gc = axisGeometry(x.cols, kc, sc, 1, padding);
  const y = zeros(gr.out, gc.out);
  for (let i = 0; i < gr.out; i++) {
    for (let j = 0; j < gc.out; j++) {
      let acc = op === "max" ? -Infinity : 0;
      let n = 0;
      for (let p = 0; p < kr; p++) {
        const r = i * sr + p - gr.padBefore;
        if (r < 0 || r >= x.rows) continue;
        for (let q = 0; q < kc; q++) {
          const c = j * sc + q - gc.padBefore;
          if (c < 0 || c >= x.cols) continue;
          const v = x.data[r * x.cols + c];
          acc = op === "max" ? Math.max(acc, v) : acc + v;
          n++;
        }
      }
      y.data[i * y.cols + j] = op === "max" ? acc : acc / n;
    }
  }
  return y;
}

/** Adds `top`, `bottom`, `left`, `right` rows/columns of zeros (ZeroPadding2D). */
export function zeroPad(x: Matrix, top: number, bottom = top, left = top, right = left): Matrix {
  const y = zeros(x.rows + top + bottom, x.cols + left + right);
  for (let i = 0; i < x.rows; i++)
    y.data.set(x.data.subarray(i * x.cols, (i + 1) * x.cols), (i + top) * y.cols + left);
  return y;
}

/** Nearest-neighbour upsampling: each pixel becomes a `fr x fc` block (UpSampling2D). */
export function upsampleNearest(x: Matrix, factor: Pair = 2): Matrix {
  const [fr, fc] = pair(factor);
  const y = zeros(x.rows * fr, x.cols * fc);
  for (let i = 0; i < y.rows; i++)
    for (let j = 0; j < y.cols; j++)
      y.data[i * y.cols + j] = x.data[Math.floor(i / fr) * x.cols + Math.floor(j / fc)];
  return y;
}

/** Removes `top`, `bottom`, `left`, `right` rows/columns (Cropping2D). */
export function crop(x: Matrix, top: number, bottom = top, left = top, right = left): Matrix {
  const rows = x.rows - top - bottom;
  const cols = x.cols - left - right;
  if (rows <= 0 || cols <= 0)
    throw new Error(
      `crop: cropping ${top}+${bottom} x ${left}+${right} leaves nothing of ${x.rows}x${x.cols}`,
    );
  const y = zeros(rows, cols);
  for (let i = 0; i < rows; i++)
    y.data.set(
      x.data.subarray((i + top) * x.cols + left, (i + top) * x.cols + left + cols),
      i * cols,
    );
  return y;
}

/**
 * Flattens channels-last feature maps (`maps[c]` all the
 * same size) to one vector, as Keras's Flatten on HWC.
 */
export function flatten(maps: Matrix[]): Float64Array {
  const [{ rows, cols }] = maps;
  const out = new Float64Array(rows * cols * maps.length);
  for (let p = 0; p < rows * cols; p++)
    for (let c = 0; c < maps.length; c++) out[p * maps.length + c] = maps[c].data[p];
  return out;
}

function addMatrices(a: Matrix, b: Matrix): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v, i) => v + b.data[i]) };
}

function scale(m: Matrix, s: number): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.map((v) => v * s) };
}
