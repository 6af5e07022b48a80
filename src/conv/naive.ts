import { Matrix } from "../core/matrix";
import { conv2d } from "./from-scratch";

/** Options of {@link conv2dValid}. */
export interface Conv2dValidOptions {
  /**
   * Flip the kernel in both axes first (the mathematical convolution).
   * Default `false`: the book's formula and every deep-learning framework compute the
   * cross-correlation `Y[i][j] = sum_p sum_q X[i+p][j+q] * k[p][q]`, which equals the
   * convolution for symmetric kernels such as the Laplacian.
   */
  flip?: boolean;
}

/**
 * Two-dimensional discrete convolution with **valid** padding, written as the book's
 * formula with indices from 0:
 *
 *   Y[i][j] = sum_{p=0}^{n-1} sum_{q=0}^{m-1} X[i+p][j+q] * k[p][q],
 *   0 <= i <= w-n, 0 <= j <= h-m,
 *
 * for an image `X` of w x h (rows x cols) and a kernel `k` of n x m, so the output is
 * (w - n + 1) x (h - m + 1): a 100x100 image and a 3x3 kernel give 98x98.
 *
 * @throws if the kernel is larger than the image in either axis.
 */
export function conv2dValid(x: Matrix, k: Matrix, options: Conv2dValidOptions = {}): Matrix {
  const { rows: w, cols: h } = x;
  const { rows: n, cols: m } = k;
  if (n > w || m > h) {
    throw new Error(`conv2dValid: kernel ${n}x${m} is larger than the image ${w}x${h}`);
  }
  // The double sum above is the general strided/padded
  // loop of reference.ts with stride 1 and no padding.
  return conv2d(x, options.flip ? flip(k) : k, { padding: "valid" });
}

/** The kernel rotated by 180 degrees: `k'[p][q] = k[n-1-p][m-1-q]`. */
export function flip(k: Matrix): Matrix {
  return { rows: k.rows, cols: k.cols, data: k.data.slice().reverse() };
}

/** Output size of a valid convolution: `(w - n + 1) x (h - m + 1)`. */
export function validOutputSize(w: number, h: number, n: number, m: number): [number, number] {
  return [w - n + 1, h - m + 1];
}
