/** A real function of one real variable. */
export type RealFn = (t: number) => number;

/**
 * The book's parabola-shaped kernel: `k(tau) = 1 - tau^2` on [-1, 1] and 0 outside.
 * It is symmetric, so `k(-tau) = k(tau)`.
 */
export const parabolaKernel: RealFn = (tau) => (Math.abs(tau) <= 1 ? 1 - tau * tau : 0);

/**
 * The kernel flipped and moved to `t`: `tau -> k(t - tau)`,
 * the factor inside the convolution integral.
 */
export function shiftedKernel(k: RealFn, t: number): RealFn {
  return (tau) => k(t - tau);
}

/** Integration range and resolution of {@link convolve}. */
export interface IntegrationOptions {
  /** Lower end of the tau range (default -10). */
  from?: number;
  /** Upper end of the tau range (default 10). */
  to?: number;
  /** Number of intervals of the composite Simpson rule (even; default 2000). */
  intervals?: number;
}

/**
 * The continuous convolution `(f * k)(t) = integral f(tau) k(t - tau) dtau`, evaluated with the
 * composite Simpson rule over `[from, to]` (both functions are assumed negligible outside it).
 */
export function convolve(
  f: RealFn,
  k: RealFn,
  t: number,
  options: IntegrationOptions = {},
): number {
  const { from = -10, to = 10, intervals = 2000 } = options;
  if (!(to > from)) throw new Error(`convolve: need from < to, got [${from}, ${to}]`);
  if (!Number.isInteger(intervals) || intervals < 2 || intervals % 2 !== 0) {
    throw new Error(`convolve: intervals must be an even integer >= 2, got ${intervals}`);
  }
  const h = (to - from) / intervals;
  let s = 0;
  for (let i = 0; i <= intervals; i++) {
    const tau = from + i * h;
    const weight = i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2;
    s += weight * f(tau) * k(t - tau);
  }
  return (s * h) / 3;
}

/** `n` evenly spaced points from `a` to `b` inclusive. */
export function linspace(a: number, b: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 2)
    throw new Error(`linspace: n must be an integer >= 2, got ${n}`);
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** The Heaviside step: 0 for t < 0, 1 for t >= 0. */
export const unitStep: RealFn = (t) => (t >= 0 ? 1 : 0);

/**
 * Closed form of `(unitStep * parabolaKernel)(t) = integral_{-inf}^{t} k(u) du`:
 * 0 for t < -1, `t - t^3/3 + 2/3` on [-1, 1], and 4/3 (the kernel's area) for t > 1.
 * Used to check {@link convolve} against exact values.
 */
export function stepParabolaConvolution(t: number): number {
  if (t < -1) return 0;
  if (t > 1) return 4 / 3;
  return t - (t * t * t) / 3 + 2 / 3;
}
