import * as tf from "@tensorflow/tfjs";

/** scikit-learn's MinMaxScaler: maps [min, max] of the fitted values linearly onto `range`. */
export class MinMaxScaler {
  private lo = 0;
  private scale = 1;
  private fitted = false;

  constructor(readonly range: [number, number] = [0, 1]) {
    if (!(range[1] > range[0]))
      throw new Error(`MinMaxScaler: range [${range}] must be increasing`);
  }

  /**
   * Learns min and max from `values` (the book fits the
   * whole series; fit the training part to avoid leakage).
   */
  fit(values: ArrayLike<number>): this {
    if (values.length === 0) throw new Error("MinMaxScaler.fit: no values");
    let min = Infinity,
      max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      min = Math.min(min, values[i]);
      max = Math.max(max, values[i]);
    }
    this.lo = min;
    this.scale = max > min ? (this.range[1] - this.range[0]) / (max - min) : 1;
    this.fitted = true;
    return this;
  }

  transform(values: ArrayLike<number>): Float64Array {
    this.check();
    return Float64Array.from(values, (v) => this.range[0] + (v - this.lo) * this.scale);
  }

  inverse(values: ArrayLike<number>): Float64Array {
    this.check();
    return Float64Array.from(values, (v) => this.lo + (v - this.range[0]) / this.scale);
  }

  private check(): void {
    if (!this.fitted) throw new Error("MinMaxScaler: call fit() first");
  }
}

/**
 * Sliding windows over a series: window i is values[i
 * .. i+length−1], its target values[i+length].
 */
export interface Windows {
  count: number;
  length: number;
  /** `count x length`, row-major. */
  x: Float32Array;
  y: Float32Array;
}

/**
 * All `series.length − length` windows of `length` consecutive
 * values and the value after each (the book: 2,820 − 15 = 2,805).
 */
export function makeWindows(series: ArrayLike<number>, length: number): Windows {
  if (!(Number.isInteger(length) && length >= 1 && length < series.length))
    throw new Error(`makeWindows: window length ${length} must be 1..${series.length - 1}`);
  const count = series.length - length;
  const x = new Float32Array(count * length),
    y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    for (let t = 0; t < length; t++) x[i * length + t] = series[i + t];
    y[i] = series[i + length];
  }
  return { count, length, x, y };
}

/**
 * Windows `from..to−1` (in the given order when `order` is
 * passed) as `[n, length, 1]` inputs and `[n, 1]` targets.
 */
export function windowTensors(
  w: Windows,
  from: number,
  to: number,
  order?: ArrayLike<number>,
): [tf.Tensor3D, tf.Tensor2D] {
  if (!(from >= 0 && to <= w.count && to > from))
    throw new Error(`windowTensors: range ${from}..${to} is outside the ${w.count} windows`);
  const n = to - from;
  const x = new Float32Array(n * w.length),
    y = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const i = order ? order[from + k] : from + k;
    x.set(w.x.subarray(i * w.length, (i + 1) * w.length), k * w.length);
    y[k] = w.y[i];
  }
  return [tf.tensor3d(x, [n, w.length, 1]), tf.tensor2d(y, [n, 1])];
}

/**
 * Where each slot of a stateful batch starts, for windows fed in order (the book): slot i of batch
 * k holds window k·batchSize + i, so the state slot i carries into batch k+1 was computed on
 * months [k·b + i, k·b + i + length) and is used for a window starting b months later:
 * with b = 20 and length 15 the carried state skips 20 − 15 = 5 months.
 * @returns `starts[k][i]`, the first month of slot i in batch k.
 */
export function statefulStarts(batchSize: number, batches: number): number[][] {
  return Array.from({ length: batches }, (_, k) =>
    Array.from({ length: batchSize }, (_, i) => k * batchSize + i),
  );
}

/**
 * A state-correct order for stateful training: the series is cut into `batchSize` contiguous
 * streams and slot i of batch k takes stream i's k-th non-overlapping window, so each window
 * starts exactly where the one before it in the same slot ended and the carried state is the
 * state of the preceding months.
 * @returns window indices (into {@link makeWindows} with the same length), batch after batch.
 */
export function continuousOrder(windowCount: number, length: number, batchSize: number): number[] {
  const streamLength = Math.floor((windowCount + length - 1) / batchSize);
  const perStream = Math.floor((streamLength - 1) / length);
  if (perStream < 1)
    throw new Error(
      `continuousOrder: ${windowCount} windows cannot make ${batchSize} streams ` +
        `of at least one window of ${length}`,
    );
  const order: number[] = [];
  for (let k = 0; k < perStream; k++)
    for (let i = 0; i < batchSize; i++) order.push(i * streamLength + k * length);
  return order;
}
