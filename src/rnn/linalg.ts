import { Matrix } from "../core/matrix";
import { gaussian, seededRandom } from "../core/random";

/** y = M·x for a `rows x cols` matrix and a vector of length cols. */
export function matVec(m: Matrix, x: ArrayLike<number>): Float64Array {
  if (x.length !== m.cols)
    throw new Error(
      `matVec: a ${m.rows}x${m.cols} matrix cannot multiply a vector of length ${x.length}`,
    );
  const y = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j] * x[j];
    y[i] = s;
  }
  return y;
}

/** y = Mᵀ·x (back-propagating through a matrix product). */
export function matTVec(m: Matrix, x: ArrayLike<number>): Float64Array {
  if (x.length !== m.rows)
    throw new Error(
      `matTVec: the transpose of a ${m.rows}x${m.cols} matrix ` +
        `cannot multiply a vector of length ${x.length}`,
    );
  const y = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++)
    for (let j = 0; j < m.cols; j++) y[j] += m.data[i * m.cols + j] * x[i];
  return y;
}

/** Euclidean norm of a vector. */
export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/**
 * A random `n x n` orthogonal matrix (Gram-Schmidt on Gaussian columns) times `radius`: every
 * eigenvalue has modulus `radius` and ‖Mᵗv‖ = radiusᵗ‖v‖ exactly, which makes the
 * "Wᵗ" argument of BPTT visible without noise.
 */
export function scaledOrthogonal(n: number, radius: number, seed = 1): Matrix {
  const next = gaussian(seededRandom(seed));
  const cols: Float64Array[] = [];
  for (let c = 0; c < n; c++) {
    const v = Float64Array.from({ length: n }, next);
    for (const u of cols) {
      const d = v.reduce((s, x, i) => s + x * u[i], 0);
      for (let i = 0; i < n; i++) v[i] -= d * u[i];
    }
    const len = norm(v);
    cols.push(v.map((x) => x / len));
  }
  return {
    rows: n,
    cols: n,
    data: Float64Array.from({ length: n * n }, (_, k) => radius * cols[k % n][Math.floor(k / n)]),
  };
}
