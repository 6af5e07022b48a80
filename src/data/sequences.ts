import * as tf from "@tensorflow/tfjs";
import { seededRandom } from "../core/random";

/**
 * The adding problem (Hochreiter & Schmidhuber): each sequence has `length` steps of two channels,
 * a value uniform in [0, 1) and a marker that is 1 at exactly two steps (one in each half); the
 * target is the sum of the two marked values. Predicting the mean (1) scores MSE 1/6, so a model
 * that learns nothing sits at ≈ 0.167; solving it needs memory over up to `length` steps.
 * @returns inputs `[n, length, 2]` and targets `[n, 1]`.
 */
export function addingProblem(n: number, length: number, seed = 1): [tf.Tensor3D, tf.Tensor2D] {
  if (!(Number.isInteger(length) && length >= 2))
    throw new Error(`addingProblem: length must be an integer >= 2, got ${length}`);
  const rand = seededRandom(seed);
  const x = new Float32Array(n * length * 2),
    y = new Float32Array(n);
  const half = Math.floor(length / 2);
  for (let s = 0; s < n; s++) {
    const a = Math.floor(rand() * half),
      b = half + Math.floor(rand() * (length - half));
    for (let t = 0; t < length; t++) {
      const v = rand();
      x[(s * length + t) * 2] = v;
      if (t === a || t === b) {
        x[(s * length + t) * 2 + 1] = 1;
        y[s] += v;
      }
    }
  }
  return [tf.tensor3d(x, [n, length, 2]), tf.tensor2d(y, [n, 1])];
}

/**
 * A task that needs *future* context: inputs uniform in [−1, 1), and the target at step t is the
 * input at step t + `shift` (0 past the end). A forward-only RNN cannot know it when it must
 * answer; a bidirectional one reads the sequence from both ends.
 * @returns inputs and targets, both `[n, length, 1]`.
 */
export function lookaheadTask(
  n: number,
  length: number,
  shift: number,
  seed = 1,
): [tf.Tensor3D, tf.Tensor3D] {
  if (!(shift >= 1 && shift < length))
    throw new Error(`lookaheadTask: shift must be 1..${length - 1}, got ${shift}`);
  const rand = seededRandom(seed);
  const x = Float32Array.from({ length: n * length }, () => rand() * 2 - 1);
  const y = new Float32Array(n * length);
  for (let s = 0; s < n; s++)
    for (let t = 0; t + shift < length; t++) y[s * length + t] = x[s * length + t + shift];
  return [tf.tensor3d(x, [n, length, 1]), tf.tensor3d(y, [n, length, 1])];
}

/**
 * Sequences of `frames + 1` binary frames of `size x size` pixels, each showing a 3x3 square moving
 * one pixel per frame diagonally and bouncing off the borders. The first `frames` are the input,
 * the last is the frame to predict.
 * @returns inputs `[n, frames, size, size, 1]` and next frames `[n, size, size, 1]`.
 */
export function movingSquares(
  n: number,
  frames: number,
  size: number,
  seed = 1,
): [tf.Tensor5D, tf.Tensor4D] {
  if (!(size >= 5)) throw new Error(`movingSquares: size must be at least 5, got ${size}`);
  const rand = seededRandom(seed);
  const x = new Float32Array(n * frames * size * size),
    y = new Float32Array(n * size * size);
  for (let s = 0; s < n; s++) {
    let px = Math.floor(rand() * (size - 2)),
      py = Math.floor(rand() * (size - 2));
    let vx = rand() < 0.5 ? -1 : 1,
      vy = rand() < 0.5 ? -1 : 1;
    for (let f = 0; f <= frames; f++) {
      const target = f < frames ? x : y;
      const base = f < frames ? (s * frames + f) * size * size : s * size * size;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) target[base + (py + i) * size + px + j] = 1;
      if (px + vx < 0 || px + vx > size - 3) vx = -vx;
      if (py + vy < 0 || py + vy > size - 3) vy = -vy;
      px += vx;
      py += vy;
    }
  }
  return [tf.tensor5d(x, [n, frames, size, size, 1]), tf.tensor4d(y, [n, size, size, 1])];
}
