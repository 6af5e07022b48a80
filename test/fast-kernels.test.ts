import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import { gaussian, initBackend, seededRandom } from "advanced-neural-models";
import {
  conv2dFilterGradSimd,
  simdFilterGradReady,
} from "advanced-neural-models/dist/backend/simd-filter-grad";
import { convInfo } from "advanced-neural-models/dist/backend/conv-grad";
import { dropoutMultiplier } from "advanced-neural-models/dist/backend/dropout";

/**
 * The wasm speed-ups that replace or wrap stock kernels and gradients (fallback-kernels.ts, dropout.ts):
 * each is checked against float64 arithmetic or finite differences, at sizes that take the fast
 * path.
 */

function randn(n: number, seed: number): Float32Array {
  const g = gaussian(seededRandom(seed));
  return Float32Array.from({ length: n }, g);
}

function maxRelErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < expected.length; i++)
    e = Math.max(e, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return e;
}

describe("wasm fast paths", () => {
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("Tile equals a brute-force copy loop for float32 and int32, on wasm and cpu", async () => {
    for (const backend of ["wasm", "cpu"]) {
      await initBackend({ backend: backend as "wasm" | "cpu", quiet: true });
      for (const [shape, reps] of [
        [
          [1, 1, 1, 5],
          [3, 4, 2, 1],
        ],
        [
          [2, 3],
          [2, 3],
        ],
        [[4], [3]],
        [
          [2, 1, 3],
          [1, 5, 2],
        ],
      ] as [number[], number[]][]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: size }, (_, i) => i * 3 - 7);
        const outShape = shape.map((d, i) => d * reps[i]);
        const expected = Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, (_, flat) => {
          let rest = flat;
          const idx: number[] = [];
          for (let i = outShape.length - 1; i >= 0; i--) {
            idx[i] = (rest % outShape[i]) % shape[i];
            rest = Math.floor(rest / outShape[i]);
          }
          return values[idx.reduce((acc, v, i) => acc * shape[i] + v, 0)];
        });
        for (const dtype of ["float32", "int32"] as const) {
          const t = tf.tile(tf.tensor(values, shape, dtype), reps);
          assert.deepStrictEqual(t.shape, outShape);
          assert.strictEqual(t.dtype, dtype);
          assert.deepStrictEqual(
            Array.from(t.dataSync()),
            expected,
            `${backend} ${dtype} ${shape} x ${reps}`,
          );
          t.dispose();
        }
      }
    }
    await initBackend({ backend: "wasm", quiet: true });
  });

  // leading axes: bias gradients and BatchNorm statistics
  it("Sum and Mean over leading axes equal float64 reductions; other axes unchanged", () => {
    const [b, h, w, c] = [64, 14, 14, 24]; // 301,056 values: the matrix-product path
    const v = randn(b * h * w * c, 1);
    const ref = new Float64Array(c);
    v.forEach((x, i) => (ref[i % c] += x));
    const x = tf.tensor4d(v, [b, h, w, c]);
    const s = tf.sum(x, [0, 1, 2]);
    const k = tf.sum(x, [2, 0, 1], true);
    assert.deepStrictEqual(s.shape, [c]);
    assert.deepStrictEqual(k.shape, [1, 1, 1, c]);
    assert.ok(maxRelErr(s.dataSync(), ref) < 1e-5, `sum off by ${maxRelErr(s.dataSync(), ref)}`);
    assert.deepStrictEqual(Array.from(k.dataSync()), Array.from(s.dataSync()));
    const mean = tf.mean(x, [0, 1, 2]).dataSync();
    assert.ok(
      maxRelErr(
        mean,
        Array.from(ref, (r) => r / (b * h * w)),
      ) < 1e-5,
      "mean",
    );
    const inner = tf.sum(x, [3]).dataSync(); // not leading axes: the stock kernel
    const refInner = Array.from({ length: b * h * w }, (_, p) =>
      v.slice(p * c, (p + 1) * c).reduce((a, q) => a + q, 0),
    );
    assert.ok(maxRelErr(inner, refInner) < 1e-5);
    tf.dispose([x, s, k]);
  });

  it("matMul A·Bᵀ with the larger B (a Dense input gradient) equals the float64 product", () => {
    const [m, k, n] = [8, 96, 200];
    const a = randn(m * k, 2);
    const bt = randn(n * k, 3);
    const out = tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(bt, [n, k]), false, true).dataSync();
    const ref = Array.from({ length: m * n }, (_, p) => {
      const [i, j] = [Math.floor(p / n), p % n];
      let sum = 0;
      for (let q = 0; q < k; q++) sum += a[i * k + q] * bt[j * k + q];
      return sum;
    });
    assert.ok(maxRelErr(out, ref) < 1e-5, `off by ${maxRelErr(out, ref)}`);
    const batched = tf.matMul(tf.tensor3d(a, [1, m, k]), tf.tensor3d(bt, [1, n, k]), false, true);
    assert.deepStrictEqual(batched.shape, [1, m, n]);
    assert.ok(maxRelErr(batched.dataSync(), ref) < 1e-5);
  });

  it("Identity shares memory safely: a clone has no buffer of its own, outlives its source", () => {
    const buffers = () =>
      (tf.memory() as tf.MemoryInfo & { numDataBuffers: number }).numDataBuffers;
    const before = buffers();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    assert.strictEqual(buffers() - before, 1);
    x.dispose();
    assert.deepStrictEqual(Array.from(y.dataSync()), [1, 2, 3]);
    y.dispose();
    assert.strictEqual(buffers(), before);
    const v = tf.variable(tf.tensor1d([1, 2]));
    const saved = tf.clone(v);
    v.assign(tf.tensor1d([5, 6])); // assign swaps memory: the clone keeps the old values
    assert.deepStrictEqual(Array.from(saved.dataSync()), [1, 2]);
    tf.dispose([v, saved]);
  });

  it("ReLU's and a broadcasting Multiply's gradients equal float64 central differences", () => {
    const a = randn(2 * 3, 4);
    const b = randn(3, 5);
    const r = randn(2 * 3, 6);
    const f64 = (av: ArrayLike<number>, bv: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) s += Math.max(av[i * 3 + j], 0) * bv[j] * r[i * 3 + j];
      return s;
    };
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.mul(tf.relu(x), y), tf.tensor2d(r, [2, 3]))),
    )([tf.tensor2d(a, [2, 3]), tf.tensor1d(b)]);
    const eps = 1e-6;
    const fd = (values: Float32Array, which: "a" | "b") =>
      Array.from(values, (_, i) => {
        const plus = Float64Array.from(values);
        const minus = Float64Array.from(values);
        plus[i] += eps;
        minus[i] -= eps;
        return which === "a"
          ? (f64(plus, b) - f64(minus, b)) / (2 * eps)
          : (f64(a, plus) - f64(a, minus)) / (2 * eps);
      });
    assert.ok(maxRelErr(ga.dataSync(), fd(a, "a")) < 1e-5);
    assert.deepStrictEqual(gb.shape, [3]);
    assert.ok(maxRelErr(gb.dataSync(), fd(b, "b")) < 1e-5);
    const gi = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, tf.tensor1d([1, 2, 3], "int32"))))(
      tf.tensor1d([4, 5, 6]),
    );
    // an int32 factor is cast as before
    assert.deepStrictEqual(Array.from(gi.dataSync()), [1, 2, 3]);
  });
});

/**
 * Float64 filter gradient by loops:
 * Σ x[b, y·s + ky·d - pad, x·s + kx·d - pad, c] · dy[b, y, x, o].
 */
function filterGradF64(
  x: Float32Array,
  dy: Float32Array,
  info: ReturnType<typeof convInfo>,
): Float64Array {
  const {
    batchSize: nb,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outChannels: co,
    outHeight: oh,
    outWidth: ow,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const dw = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < nb; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const yy = i * info.strideHeight + ky * info.dilationHeight - info.padInfo.top;
            const xx = j * info.strideWidth + kx * info.dilationWidth - info.padInfo.left;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            for (let c = 0; c < ci; c++) {
              const xv = x[((b * h + yy) * w + xx) * ci + c];
              for (let o = 0; o < co; o++)
                dw[((ky * kw + kx) * ci + c) * co + o] += xv * dy[((b * oh + i) * ow + j) * co + o];
            }
          }
  return dw;
}

describe("SIMD filter-gradient kernel (wasm)", () => {
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  // it does not apply to output channels that are not a multiple of 4, nor to the cpu backend
  it("is assembled by initBackend and declines where it does not apply", async () => {
    assert.ok(simdFilterGradReady());
    const x = tf.ones([1, 5, 5, 3]) as tf.Tensor4D;
    const odd = convInfo(x.shape, [3, 3, 3, 6], 1, "same");
    assert.strictEqual(
      conv2dFilterGradSimd(x, tf.ones([1, 5, 5, 6]) as tf.Tensor4D, odd),
      undefined,
    );
    await initBackend({ backend: "cpu", quiet: true });
    const onCpu = convInfo([1, 5, 5, 3], [3, 3, 3, 8], 1, "same");
    assert.strictEqual(
      conv2dFilterGradSimd(
        tf.ones([1, 5, 5, 3]) as tf.Tensor4D,
        tf.ones([1, 5, 5, 8]) as tf.Tensor4D,
        onCpu,
      ),
      undefined,
    );
    await initBackend({ backend: "wasm", quiet: true });
    tf.dispose(x);
  });

  // channel-tile remainders, and again after the wasm heap grows
  it("equals float64 loops over tile remainders, strides, dilation, padding, a grown heap", () => {
    const shapes = [
      { b: 4, h: 14, w: 14, ci: 17, co: 36, k: 3, s: 1, d: 1, pad: "same" as const },
      { b: 3, h: 13, w: 12, ci: 6, co: 4, k: 3, s: 2, d: 1, pad: "valid" as const },
      { b: 2, h: 12, w: 15, ci: 8, co: 16, k: 3, s: 1, d: 2, pad: "same" as const },
      { b: 2, h: 7, w: 9, ci: 1, co: 8, k: 5, s: 3, d: 1, pad: "same" as const },
    ];
    const check = () =>
      shapes.forEach((c, n) => {
        const info = convInfo([c.b, c.h, c.w, c.ci], [c.k, c.k, c.ci, c.co], c.s, c.pad, c.d);
        const xv = randn(c.b * c.h * c.w * c.ci, 10 + n);
        const dyv = randn(c.b * info.outHeight * info.outWidth * c.co, 20 + n);
        const before = tf.memory().numTensors;
        const got = tf.tidy(() =>
          conv2dFilterGradSimd(
            tf.tensor4d(xv, [c.b, c.h, c.w, c.ci]),
            tf.tensor4d(dyv, [c.b, info.outHeight, info.outWidth, c.co]),
            info,
          )!.dataSync(),
        );
        assert.strictEqual(tf.memory().numTensors, before, "no tensors leaked");
        const expected = filterGradF64(xv, dyv, info);
        assert.strictEqual(got.length, expected.length);
        // sums of that many unit-variance products
        const scale = Math.sqrt(c.b * info.outHeight * info.outWidth);
        for (let i = 0; i < expected.length; i++)
          assert.ok(
            Math.abs(got[i] - expected[i]) < 1e-5 * scale,
            `${JSON.stringify(c)}: dW[${i}] = ${got[i]}, float64 ${expected[i]}`,
          );
      });
    check();
    const memory = (
      tf.backend() as unknown as { wasm: { asm: { memory: { buffer: ArrayBuffer } } } }
    ).wasm.asm.memory;
    const heapBefore = memory.buffer.byteLength;
    const filler: tf.Tensor[] = [];
    while (memory.buffer.byteLength === heapBefore) filler.push(tf.zeros([64 * 1024 * 1024]));
    check();
    tf.dispose(filler);
  });
});

describe("fast dropout", () => {
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  // the kept share within 4 standard deviations of 1 - rate
  it("dropoutMultiplier keeps 1 - rate of the values, scaled by 1 / (1 - rate), repeatably", () => {
    for (const rate of [0.1, 0.25, 0.5, 0.9]) {
      const n = 200_000;
      const m = Float32Array.from(dropoutMultiplier(n, rate, 1234));
      const kept = m.filter((v) => v !== 0);
      const keep = 1 - rate;
      assert.ok(
        Math.abs(kept.length / n - keep) < 4 * Math.sqrt((keep * rate) / n),
        `rate ${rate}: kept ${kept.length / n}`,
      );
      assert.ok(kept.every((v) => v === Math.fround(1 / keep)));
      assert.deepStrictEqual(Array.from(dropoutMultiplier(n, rate, 1234)), Array.from(m));
      assert.notDeepStrictEqual(
        Array.from(dropoutMultiplier(1000, rate, 99)),
        Array.from(m.subarray(0, 1000)),
      );
    }
    assert.throws(() => dropoutMultiplier(10, 1, 1), /rate must be in \[0, 1\), got 1/);
  });

  it("the Dropout layer drops in training only, keeps the mean, broadcasts over noiseShape", () => {
    const x = tf.ones([64, 50, 8]);
    const layer = tf.layers.dropout({ rate: 0.5 });
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const mean = tf.mean(y).dataSync()[0];
    assert.ok(Math.abs(mean - 1) < 0.02, `mean ${mean}`);
    assert.deepStrictEqual(Array.from(new Set(y.dataSync())).sort(), [0, 2]);
    assert.deepStrictEqual(
      Array.from((layer.apply(x, { training: false }) as tf.Tensor).dataSync()),
      Array.from(x.dataSync()),
    );
    const spatial = tf.layers
      .spatialDropout1d({ rate: 0.5 })
      .apply(x, { training: true }) as tf.Tensor; // one mask value per (sample, channel)
    const s = spatial.arraySync() as number[][][];
    for (const sample of s)
      for (let ch = 0; ch < 8; ch++) assert.ok(sample.every((t) => t[ch] === sample[0][ch]));
    const grad = tf.grad((v: tf.Tensor) => tf.sum(layer.apply(v, { training: true }) as tf.Tensor))(
      tf.ones([1000]),
    );
    assert.deepStrictEqual(Array.from(new Set(grad.dataSync())).sort(), [0, 2]);
  });

  it("a seeded Dropout layer keeps tfjs's own behaviour (the same mask every call)", () => {
    const layer = tf.layers.dropout({ rate: 0.5, seed: 7 });
    const x = tf.ones([500]);
    const a = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    const b = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    assert.deepStrictEqual(Array.from(a), Array.from(b));
  });
});
