import { Matrix, zeros } from "../core/matrix";
import { seededRandom } from "../core/random";

/**
 * A white cross (value 1) on black, the book's pooling example: two bars of width `thickness`
 * and length `arm * 2 + thickness`, centred at (`centre`, `centre`) of a `size x size` image.
 */
export function crossImage(
  size = 64,
  arm = 16,
  thickness = 6,
  centre = Math.floor(size / 2),
): Matrix {
  const m = zeros(size, size);
  const lo = centre - Math.floor(thickness / 2);
  const inBar = (v: number) => v >= lo && v < lo + thickness;
  const inArm = (v: number) => v >= lo - arm && v < lo + thickness + arm;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      if ((inBar(j) && inArm(i)) || (inBar(i) && inArm(j))) m.data[i * size + j] = 1;
    }
  }
  return m;
}

/**
 * The image moved `down` rows and `right` columns (negative: up/left); uncovered cells become 0.
 */
export function translate(m: Matrix, down: number, right: number): Matrix {
  const out = zeros(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) {
    const si = i - down;
    if (si < 0 || si >= m.rows) continue;
    for (let j = 0; j < m.cols; j++) {
      const sj = j - right;
      if (sj >= 0 && sj < m.cols) out.data[i * m.cols + j] = m.data[si * m.cols + sj];
    }
  }
  return out;
}

/** `count` random `size x size` patches of an image, reproducible by `seed`. */
export function randomPatches(m: Matrix, size: number, count: number, seed = 1): Matrix[] {
  if (size > m.rows || size > m.cols)
    throw new Error(`randomPatches: patch ${size} is larger than the ${m.rows}x${m.cols} image`);
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const top = Math.floor(rand() * (m.rows - size + 1));
    const left = Math.floor(rand() * (m.cols - size + 1));
    const p = zeros(size, size);
    for (let i = 0; i < size; i++)
      p.data.set(
        m.data.subarray((top + i) * m.cols + left, (top + i) * m.cols + left + size),
        i * size,
      );
    return p;
  });
}
