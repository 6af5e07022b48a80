/**
 * Image datasets in memory (MNIST's format: 8-bit pixels, labels 0-9) and what every image
 * experiment does with them: read an IDX pair, turn a range into tensors, take one image.
 * MNIST, Fashion-MNIST and the transfer-learning subsets all use these.
 */
import * as tf from "@tensorflow/tfjs";
import { Matrix } from "../core/matrix";
import { readIdx } from "./idx";

/** Images and labels of one split of an MNIST-format dataset. */
export interface ImageDataset {
  /** Pixel values 0-255, `count * rows * cols` bytes, image-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  /** Where the data came from, for results.json and the notebooks. */
  source: string;
}

/**
 * Reads an images/labels IDX pair and checks that they agree (same count, labels 0-9).
 * @throws naming the file at fault.
 */
export function readImageDataset(
  imagesFile: string,
  labelsFile: string,
  source: string,
): ImageDataset {
  const images = readIdx(imagesFile, { type: "uint8", rank: 3 });
  const labels = readIdx(labelsFile, { type: "uint8", rank: 1 });
  const [count, rows, cols] = images.shape;
  if (labels.shape[0] !== count) {
    throw new Error(
      `${labelsFile}: ${labels.shape[0]} labels for the ${count} images of ${imagesFile}`,
    );
  }
  const bad = (labels.data as Uint8Array).findIndex((l) => l > 9);
  if (bad >= 0)
    throw new Error(`${labelsFile}: label ${labels.data[bad]} at index ${bad} is not a class 0-9`);
  return {
    images: images.data as Uint8Array,
    labels: labels.data as Uint8Array,
    count,
    rows,
    cols,
    source,
  };
}

/**
 * `count` images from `start` as a `[n, rows, cols, 1]` float tensor scaled to [0, 1] (the book's
 * `/255`) and their one-hot labels `[n, classes]`.
 */
export function toTensors(
  ds: ImageDataset,
  start = 0,
  count = ds.count - start,
  classes = 10,
): [tf.Tensor4D, tf.Tensor2D] {
  if (start < 0 || count <= 0 || start + count > ds.count)
    throw new Error(
      `toTensors: images ${start}..${start + count - 1} ` +
        `are outside the ${ds.count} of ${ds.source}`,
    );
  const px = ds.rows * ds.cols;
  const pixels = new Float32Array(count * px);
  for (let i = 0; i < count * px; i++) pixels[i] = ds.images[start * px + i] / 255;
  return tf.tidy(() => [
    tf.tensor4d(pixels, [count, ds.rows, ds.cols, 1]),
    tf
      .oneHot(tf.tensor1d(Array.from(ds.labels.subarray(start, start + count)), "int32"), classes)
      .cast("float32") as tf.Tensor2D,
  ]);
}

/** Image `i` of a dataset as a matrix of values in [0, 1] (for heat maps). */
export function imageAt(ds: ImageDataset, i: number): Matrix {
  const px = ds.rows * ds.cols;
  return {
    rows: ds.rows,
    cols: ds.cols,
    data: Float64Array.from(ds.images.subarray(i * px, (i + 1) * px), (v) => v / 255),
  };
}
