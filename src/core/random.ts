import { Matrix } from "./matrix";

/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same
 * sequence on every machine, so notebooks and tests are reproducible.
 * @returns a function giving uniform numbers in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform generator (Box-Muller). */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** A `rows x cols` matrix of standard normal values drawn with `seed`. */
export function randomMatrix(rows: number, cols: number, seed = 1): Matrix {
  const next = gaussian(seededRandom(seed));
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, next) };
}

/**
 * Makes `Math.random` a seeded generator until the returned function is called, the way
 * seedrandom's `Math.seedrandom` does. tfjs draws weight initialisation, shuffling and dropout
 * seeds from `Math.random`, so a training run on one backend repeats exactly.
 * @returns a function that restores the original `Math.random`.
 */
export function seedGlobalRandom(seed: number): () => void {
  const original = Math.random;
  Math.random = seededRandom(seed);
  return () => {
    Math.random = original;
  };
}
