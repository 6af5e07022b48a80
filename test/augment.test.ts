import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  AffineParams,
  IDENTITY,
  ImageDataGenerator,
  initBackend,
  kerasTransformMatrix,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

/** A deterministic test image batch `[n, rows, cols, 1]` with distinct pixel values. */
function ramp(n: number, rows: number, cols: number): tf.Tensor4D {
  return tf.tensor4d(
    Float32Array.from({ length: n * rows * cols }, (_, i) => (i * 37) % 251),
    [n, rows, cols, 1],
  );
}

/**
 * Independent float64 reference: bilinear sampling of `img` at the
 * Keras matrix, edges replicated (scipy order=1, mode='nearest').
 */
function referenceWarp(
  img: Float32Array,
  rows: number,
  cols: number,
  p: AffineParams,
): Float64Array {
  const m = kerasTransformMatrix(p, rows, cols);
  const at = (r: number, c: number) =>
    img[Math.min(rows - 1, Math.max(0, r)) * cols + Math.min(cols - 1, Math.max(0, c))];
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const sr = m[0][0] * r + m[0][1] * c + m[0][2];
      const sc = m[1][0] * r + m[1][1] * c + m[1][2];
      const r0 = Math.floor(sr),
        c0 = Math.floor(sc),
        fr = sr - r0,
        fc = sc - c0;
      out[r * cols + c] =
        (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) +
        fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
    }
  return out;
}

describe("ImageDataGenerator", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("Keras's matrix: a pure rotation turns points about Keras's centre (size/2 + 0.5)", () => {
    const m = kerasTransformMatrix({ ...IDENTITY, theta: 90 }, 28, 28);
    const o = 14.5;
    // input = R (p - o) + o with R = [[cos, -sin], [sin, cos]] at 90 degrees
    const p = [3, 20];
    const want = [-(p[1] - o) + o, p[0] - o + o];
    assert.ok(Math.abs(m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] - want[0]) < 1e-12);
    assert.ok(Math.abs(m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] - want[1]) < 1e-12);
  });

  it("warps like an independent bilinear sampler for rotation, shear, zoom and shift", () => {
    const gen = new ImageDataGenerator();
    const [rows, cols] = [12, 10];
    const params: AffineParams[] = [
      { ...IDENTITY, theta: 17 },
      { ...IDENTITY, shear: 12 },
      { ...IDENTITY, zx: 0.8, zy: 1.25 },
      { ...IDENTITY, tx: 2.5, ty: -1.5 },
      { theta: -8, tx: 1, ty: 0.5, shear: 5, zx: 1.1, zy: 0.9, flipHorizontal: false },
    ];
    const x = ramp(params.length, rows, cols);
    const got = tf.tidy(() => gen.apply(x, params).dataSync());
    const src = x.dataSync();
    params.forEach((p, i) => {
      const want = referenceWarp(
        src.subarray(i * rows * cols, (i + 1) * rows * cols) as Float32Array,
        rows,
        cols,
        p,
      );
      want.forEach((v, k) =>
        assert.ok(
          Math.abs(got[i * rows * cols + k] - v) < 1e-3,
          `transform ${i}, pixel ${k}: ${got[i * rows * cols + k]} vs ${v}`,
        ),
      );
    });
    x.dispose();
  });

  it("flips exactly: each image is unchanged or mirrored, about half of them mirrored", () => {
    const gen = new ImageDataGenerator({ horizontalFlip: true, seed: 3 });
    const x = ramp(200, 5, 7);
    const y = tf.tidy(() => gen.randomTransform(x).dataSync());
    const src = x.dataSync();
    let flipped = 0;
    for (let n = 0; n < 200; n++) {
      let same = true,
        mirror = true;
      for (let r = 0; r < 5; r++)
        for (let c = 0; c < 7; c++) {
          const v = y[(n * 5 + r) * 7 + c];
          if (v !== src[(n * 5 + r) * 7 + c]) same = false;
          if (v !== src[(n * 5 + r) * 7 + (6 - c)]) mirror = false;
        }
      assert.ok(same || mirror, `image ${n} is neither the original nor its mirror`);
      if (mirror && !same) flipped++;
    }
    assert.ok(flipped > 70 && flipped < 130, `${flipped} of 200 flipped`);
    x.dispose();
  });

  it("is reproducible by seed and standardises each sample", () => {
    const opts = {
      rescale: 1 / 255,
      samplewiseCenter: true,
      samplewiseStdNormalization: true,
      horizontalFlip: true,
      rotationRange: 10,
      shearRange: 15,
      zoomRange: 0.25,
      seed: 1000,
    };
    const x = ramp(8, 28, 28);
    const a = tf.tidy(() =>
      new ImageDataGenerator(opts).randomTransform(x).dataSync(),
    ) as Float32Array;
    const b = tf.tidy(() => new ImageDataGenerator(opts).randomTransform(x).dataSync());
    const c = tf.tidy(() =>
      new ImageDataGenerator({ ...opts, seed: 1001 }).randomTransform(x).dataSync(),
    );
    assert.deepStrictEqual(Array.from(a), Array.from(b));
    assert.ok(a.some((v, i) => v !== c[i]));
    for (let n = 0; n < 8; n++) {
      const s = a.subarray(n * 784, (n + 1) * 784);
      const mean = s.reduce((p, v) => p + v, 0) / 784;
      const sd = Math.sqrt(s.reduce((p, v) => p + (v - mean) ** 2, 0) / 784);
      assert.ok(
        Math.abs(mean) < 1e-4 && Math.abs(sd - 1) < 1e-3,
        `sample ${n}: mean ${mean}, std ${sd}`,
      );
    }
    const plain = tf.tidy(() =>
      new ImageDataGenerator({ rescale: 1 / 255 }).randomTransform(x).dataSync(),
    );
    assert.ok(plain.every((v) => v >= 0 && v <= 1));
    x.dispose();
  });

  it("flow() yields shuffled image batches with matching one-hot labels, no leaks", async () => {
    const count = 10;
    // image k is all 10k
    const images = Uint8Array.from({ length: count * 4 }, (_, i) => Math.floor(i / 4) * 10);
    const labels = Uint8Array.from({ length: count }, (_, k) => k % 3);
    const gen = new ImageDataGenerator({ rescale: 1 / 10, seed: 5 });
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    await gen
      .flow(images, labels, { count, rows: 2, cols: 2 }, { batchSize: 4, numClasses: 3, passes: 1 })
      .forEachAsync(({ xs, ys }) => {
        assert.strictEqual(xs.shape[1], 2);
        const x = xs.dataSync();
        const y = ys.arraySync() as number[][];
        y.forEach((row, i) => {
          const k = x[i * 4]; // the image index, from its pixel value
          seen.push(k);
          assert.deepStrictEqual(
            row,
            [0, 1, 2].map((c) => (c === k % 3 ? 1 : 0)),
          );
        });
        tf.dispose([xs, ys]);
      });
    assert.deepStrictEqual(
      [...seen].sort((p, q) => p - q),
      Array.from({ length: count }, (_, k) => k),
    );
    assert.notDeepStrictEqual(
      seen,
      Array.from({ length: count }, (_, k) => k),
      "shuffled",
    );
    assert.strictEqual(tf.memory().numTensors, before);
    assert.throws(
      () => gen.flow(images, labels, { count: 11, rows: 2, cols: 2 }),
      /do not match 11 images of 2x2/,
    );
  });

  it("flow() is endless, as Keras's: each pass a new permutation, last batch partial", async () => {
    const count = 10;
    const images = Uint8Array.from({ length: count * 4 }, (_, i) => Math.floor(i / 4) * 10);
    const labels = Uint8Array.from({ length: count }, (_, k) => k % 3);
    const gen = new ImageDataGenerator({ rescale: 1 / 10, seed: 9 });
    const sizes: number[] = [],
      seen: number[] = [];
    // 3 batches per pass (4 + 4 + 2): 7 batches reach into the third pass.
    await gen
      .flow(images, labels, { count, rows: 2, cols: 2 }, { batchSize: 4, numClasses: 3 })
      .take(7)
      .forEachAsync(({ xs, ys }) => {
        sizes.push(xs.shape[0]);
        const x = xs.dataSync();
        for (let i = 0; i < xs.shape[0]; i++) seen.push(x[i * 4]);
        tf.dispose([xs, ys]);
      });
    assert.deepStrictEqual(sizes, [4, 4, 2, 4, 4, 2, 4]);
    const first = seen.slice(0, 10),
      second = seen.slice(10, 20);
    for (const pass of [first, second])
      assert.deepStrictEqual(
        [...pass].sort((p, q) => p - q),
        Array.from({ length: count }, (_, k) => k),
      );
    assert.notDeepStrictEqual(first, second, "reshuffled between passes");
    assert.throws(
      () => gen.flow(images, labels, { count, rows: 2, cols: 2 }, { passes: 0 }),
      /passes must be at least 1/,
    );
  });
});
