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

/**
 * Reads a `[rows, cols]` tensor or a single-image,
 * single-channel `[1, rows, cols, 1]` tensor into a matrix.
 */
export function tensorToMatrix(t: tf.Tensor): Matrix {
  const s = t.shape;
  const single = s.length === 4 && s[0] === 1 && s[3] === 1;
  if (!single && s.length !== 2)
    throw new Error(
      `tensorToMatrix: expected shape [rows, cols] or [1, rows, cols, 1], got [${s}]`,
    );
  const [rows, cols] = single ? [s[1], s[2]] : [s[0], s[1]];
  return { rows, cols, data: Float64Array.from(t.dataSync()) };
}

/**
 * A single-channel image convolved with a single 2-D kernel by `tf.conv2d`
 * (cross-correlation, like the book's formula), on the active backend.
 */
export function tfConv2d(
  x: Matrix,
  k: Matrix,
  options: { padding?: "valid" | "same"; strides?: number | [number, number] } = {},
): Matrix {
  const y = tf.tidy(() =>
    tf.conv2d(
      matrixToImageTensor(x),
      matrixToFilter(k),
      options.strides ?? 1,
      options.padding ?? "valid",
    ),
  );
  try {
    return tensorToMatrix(y);
  } finally {
    y.dispose();
  }
}
