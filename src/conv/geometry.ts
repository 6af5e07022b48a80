/**
 * `valid`: the kernel stays inside the image; `same`:
 * zeros are added so that output = ceil(input / stride).
 */
export type Padding = "valid" | "same";

/** A pair (rows, cols); a single number means the same value for both axes. */
export type Pair = number | [number, number];

/** Expands a {@link Pair} to `[rows, cols]`. */
export function pair(v: Pair): [number, number] {
  return Array.isArray(v) ? v : [v, v];
}

/** Output size and zeros added before/after along one axis (TensorFlow's conventions). */
export interface AxisGeometry {
  out: number;
  padBefore: number;
  padAfter: number;
}

/**
 * Geometry of a convolution or pooling along one axis of length `size`, for a kernel of length
 * `k`, stride `s` and dilation `d` (effective kernel length `(k - 1) d + 1`):
 * - `valid`: out = floor((size - effK) / s) + 1, no padding;
 * - `same`: out = ceil(size / s), total padding max((out - 1) s + effK - size, 0), of which
 *   floor(total / 2) goes before (top/left) and the rest after, as in TensorFlow and Keras.
 * @throws when the kernel does not fit (valid) or an argument is not a positive integer.
 */
export function axisGeometry(
  size: number,
  k: number,
  s: number,
  d: number,
  padding: Padding,
): AxisGeometry {
  for (const [name, v] of [
    ["size", size],
    ["kernel", k],
    ["stride", s],
    ["dilation", d],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`${name} must be a positive integer, got ${v}`);
  }
  const effK = (k - 1) * d + 1;
  if (padding === "valid") {
    if (effK > size)
      throw new Error(
        `kernel of effective size ${effK} does not fit an axis of ${size} with valid padding`,
      );
    return { out: Math.floor((size - effK) / s) + 1, padBefore: 0, padAfter: 0 };
  }
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + effK - size, 0);
  return { out, padBefore: Math.floor(total / 2), padAfter: total - Math.floor(total / 2) };
}

/** Receptive field of a kernel of size `k` at dilation rate `d`: k + (k - 1)(d - 1). */
export function receptiveField(k: number, d: number): number {
  return k + (k - 1) * (d - 1);
}
