/**
 * Closed-form operation and parameter counts from the book, checked in tests against the
 * reference implementations' counters and tfjs's `countParams()`.
 */

/** Multiplications of a valid n x m convolution over a w x h image: n·m per output pixel. */
export function standardConvOps(w: number, h: number, n: number, m: number): number {
  return n * m * (w - n + 1) * (h - m + 1);
}

/** The book's estimate for a full (same-size) convolution, n·m·w·h, and for a separable one, (n+m)·w·h. */
export function bookConvOps(w: number, h: number, n: number, m: number): { standard: number; separable: number } {
  return { standard: n * m * w * h, separable: (n + m) * w * h };
}

/** Multiplications of the separable valid convolution: column pass n per pixel, row pass m per pixel. */
export function separableConvOps(w: number, h: number, n: number, m: number): number {
  return n * (w - n + 1) * h + m * (w - n + 1) * (h - m + 1);
}

/** Weights of a standard convolution with q kernels n x m over p channels: n·m·p·q (+ q biases). */
export function standardConvParams(n: number, m: number, p: number, q: number, bias = false): number {
  return n * m * p * q + (bias ? q : 0);
}

/** Weights of a depthwise-separable convolution: n·m·p (depthwise) + p·q (pointwise) (+ q biases). */
export function depthwiseSeparableParams(n: number, m: number, p: number, q: number, bias = false): number {
  return n * m * p + p * q + (bias ? q : 0);
}

/** The ratio depthwise-separable / standard parameters = 1/q + 1/(n·m). */
export function depthwiseSeparableRatio(n: number, m: number, q: number): number {
  return 1 / q + 1 / (n * m);
}
