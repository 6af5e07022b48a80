/**
 * A dense row-major matrix of float64 values: the common currency between the
 * from-scratch reference code, the image loaders and the chart builders.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Row-major values: element (i, j) is `data[i * cols + j]`. */
  readonly data: Float64Array;
}

/** Creates a `rows x cols` matrix filled with `fill` (default 0). */
export function zeros(rows: number, cols: number, fill = 0): Matrix {
  assertDims(rows, cols, "zeros");
  return { rows, cols, data: new Float64Array(rows * cols).fill(fill) };
}

/**
 * Builds a matrix from nested arrays (`values[i][j]` is row i, column j).
 * @throws if the rows have different lengths or the input is empty.
 */
export function fromRows(values: ArrayLike<ArrayLike<number>>): Matrix {
  const rows = values.length;
  const cols = rows > 0 ? values[0].length : 0;
  assertDims(rows, cols, "fromRows");
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    if (values[i].length !== cols) {
      throw new Error(
        `fromRows: row ${i} has ${values[i].length} values, expected ${cols} like row 0`,
      );
    }
    for (let j = 0; j < cols; j++) data[i * cols + j] = values[i][j];
  }
  return { rows, cols, data };
}

/**
 * Builds a matrix from its columns (`columns[j][i]` is row i, column j), e.g. one vector per time
 * step as the columns of a units × time image.
 * @throws if the columns have different lengths or the input is empty.
 */
export function fromColumns(columns: ArrayLike<ArrayLike<number>>): Matrix {
  const m = fromRows(columns);
  const data = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.cols; i++)
    for (let j = 0; j < m.rows; j++) data[i * m.rows + j] = m.data[j * m.cols + i];
  return { rows: m.cols, cols: m.rows, data };
}

/** Wraps flat row-major values; checks that `values.length === rows * cols`. */
export function fromFlat(values: ArrayLike<number>, rows: number, cols: number): Matrix {
  assertDims(rows, cols, "fromFlat");
  if (values.length !== rows * cols) {
    throw new Error(
      `fromFlat: got ${values.length} values, ` +
        `expected rows*cols = ${rows}*${cols} = ${rows * cols}`,
    );
  }
  return { rows, cols, data: Float64Array.from(values) };
}

/** Returns the matrix as nested arrays (row i is `result[i]`). */
export function toRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++)
    out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/** Element (i, j). */
export function at(m: Matrix, i: number, j: number): number {
  return m.data[i * m.cols + j];
}

/** Applies `f` to every element, returning a new matrix. */
export function map(m: Matrix, f: (v: number) => number): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.map(f) };
}

/** Smallest and largest element. */
export function extent(m: Matrix): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of m.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Linearly rescales the values to [0, 1] (a constant matrix becomes all zeros). */
export function normalize01(m: Matrix): Matrix {
  const [lo, hi] = extent(m);
  const span = hi - lo;
  return map(m, (v) => (span === 0 ? 0 : (v - lo) / span));
}

/** Largest absolute element-wise difference between two matrices of the same shape. */
export function maxAbsDiff(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new Error(`maxAbsDiff: shapes differ (${a.rows}x${a.cols} vs ${b.rows}x${b.cols})`);
  }
  let d = 0;
  for (let k = 0; k < a.data.length; k++) d = Math.max(d, Math.abs(a.data[k] - b.data[k]));
  return d;
}

function assertDims(rows: number, cols: number, where: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) {
    throw new Error(`${where}: rows and cols must be positive integers, got ${rows}x${cols}`);
  }
}

/** Relative Euclidean distance ||a - b|| / ||a|| (0 when equal; shapes must match). */
export function relativeDistance(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new Error(`relativeDistance: shapes differ (${a.rows}x${a.cols} vs ${b.rows}x${b.cols})`);
  }
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.data.length; k++) {
    num += (a.data[k] - b.data[k]) ** 2;
    den += a.data[k] ** 2;
  }
  return Math.sqrt(num / (den || 1));
}
