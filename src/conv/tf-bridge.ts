import * as tf from "@tensorflow/tfjs";
import { Matrix } from "../core/matrix";

/** A matrix as a `[1, rows, cols, 1]` tensor (batch of one single-channel image). */
export function matrixToImageTensor(m: Matrix): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(m.data), [1, m.rows, m.cols, 1]);
}

/** A matrix as a `[rows, cols, 1, 1]` filter (one input and one output channel). */
export function matrixToFilter(k: Matrix): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(k.data), [k.rows, k.cols, 1, 1]);
}

/** Reads a tensor with exactly two axes longer than 1 (e.g. `[1, rows, cols, 1]`) back into a matrix. */
export function tensorToMatrix(t: tf.Tensor): Matrix {
  const dims = t.shape.filter((d) => d !== 1);
  if (dims.length !== 2) throw new Error(`tensorToMatrix: expected exactly two non-unit axes, got shape [${t.shape}]`);
  const [rows, cols] = dims;
  return { rows, cols, data: Float64Array.from(t.dataSync()) };
}

/**
 * A single-channel image convolved with a single 2-D kernel by `tf.conv2d`
 * (cross-correlation, like the book's formula), on the active backend.
 */
export function tfConv2d(x: Matrix, k: Matrix, options: { padding?: "valid" | "same"; strides?: number | [number, number] } = {}): Matrix {
  const y = tf.tidy(() => tf.conv2d(matrixToImageTensor(x), matrixToFilter(k), options.strides ?? 1, options.padding ?? "valid"));
  try {
    return tensorToMatrix(y);
  } finally {
    y.dispose();
  }
}
