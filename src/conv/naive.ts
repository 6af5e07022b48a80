import { Matrix } from "../core/matrix";

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
  const outRows = w - n + 1;
  const outCols = h - m + 1;
  const out = new Float64Array(outRows * outCols);
  for (let i = 0; i < outRows; i++) {
    for (let j = 0; j < outCols; j++) {
      let s = 0;
      for (let p = 0; p < n; p++) {
        for (let q = 0; q < m; q++) {
          const kp = options.flip ? n - 1 - p : p;
          const kq = options.flip ? m - 1 - q : q;
          s += x.data[(i + p) * h + (j + q)] * k.data[kp * m + kq];
        }
      }
      out[i * outCols + j] = s;
    }
  }
  return { rows: outRows, cols: outCols, data: out };
}

/** Output size of a valid convolution: `(w - n + 1) x (h - m + 1)`. */
export function validOutputSize(w: number, h: number, n: number, m: number): [number, number] {
  return [w - n + 1, h - m + 1];
}
