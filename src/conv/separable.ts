import { Matrix, fromFlat } from "../core/matrix";
import { Conv2dOptions, conv2d } from "./from-scratch";

/** The best rank-1 factorisation of a kernel and what it leaves out. */
export interface RankOneSplit {
  /** Column factor (n x 1), scaled by sqrt of the top singular value. */
  column: Matrix;
  /** Row factor (1 x m), scaled likewise, so that column * row is the best rank-1 approximation. */
  row: Matrix;
  /** Singular values, largest first. */
  singularValues: number[];
  /** kernel - column * row. */
  residual: Matrix;
  /** Largest |residual| element. */
  residualMax: number;
  /** Whether the kernel is separable (rank 1) up to 1e-9 relative. */
  separable: boolean;
}

/**
 * Splits an n x m kernel into `column (n x 1) * row (1 x m)` via its singular value decomposition
 * (Jacobi eigen-decomposition of k^T k, exact enough for small kernels). A kernel is separable
 * exactly when it has rank 1 (e.g. Sobel); otherwise (e.g. the Laplacian) the residual shows
 * what a separable approximation loses.
 */
export function rankOneSplit(k: Matrix): RankOneSplit {
  const { rows: n, cols: m } = k;
  const kt = new Float64Array(m * m); // k^T k
  for (let a = 0; a < m; a++)
    for (let b = 0; b < m; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += k.data[i * m + a] * k.data[i * m + b];
      kt[a * m + b] = s;
    }
  const { values, vectors } = jacobiEigen(kt, m);
  const order = values.map((v, i) => [v, i] as const).sort((p, q) => q[0] - p[0]);
  const singularValues = order.map(([v]) => Math.sqrt(Math.max(v, 0)));
  const top = order[0][1];
  const v = Array.from({ length: m }, (_, a) => vectors[a * m + top]);
  const sigma = singularValues[0];
  const u = Array.from({ length: n }, (_, i) =>
    sigma > 0 ? v.reduce((s, vb, b) => s + k.data[i * m + b] * vb, 0) / sigma : 0,
  );
  const root = Math.sqrt(sigma);
  const column = fromFlat(
    u.map((x) => x * root),
    n,
    1,
  );
  const row = fromFlat(
    v.map((x) => x * root),
    1,
    m,
  );
  const residualData = k.data.map(
    (x, idx) => x - column.data[Math.floor(idx / m)] * row.data[idx % m],
  );
  const residualMax = residualData.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
  const scaleRef = k.data.reduce((a, x) => Math.max(a, Math.abs(x)), 0) || 1;
  return {
    column,
    row,
    singularValues,
    residual: { rows: n, cols: m, data: residualData },
    residualMax,
    separable: residualMax <= 1e-9 * scaleRef,
  };
}

/** Convolution with a separable kernel as two passes: the n x 1 column, then the 1 x m row. */
export function conv2dSeparable(
  x: Matrix,
  column: Matrix,
  row: Matrix,
  options: Conv2dOptions = {},
): Matrix {
  return conv2d(conv2d(x, column, options), row, options);
}

/**
 * Eigen-decomposition of a symmetric m x m matrix by cyclic
 * Jacobi rotations; `vectors` holds eigenvectors as columns.
 */
function jacobiEigen(a0: Float64Array, m: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(a0);
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += a[p * m + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < m; r++) {
          const arp = a[r * m + p];
          const arq = a[r * m + q];
          a[r * m + p] = c * arp - s * arq;
          a[r * m + q] = s * arp + c * arq;
        }
        for (let r = 0; r < m; r++) {
          const apr = a[p * m + r];
          const aqr = a[q * m + r];
          a[p * m + r] = c * apr - s * aqr;
          a[q * m + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < m; r++) {
          const vrp = v[r * m + p];
          const vrq = v[r * m + q];
          v[r * m + p] = c * vrp - s * vrq;
          v[r * m + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  return { values: Array.from({ length: m }, (_, i) => a[i * m + i]), vectors: v };
}
