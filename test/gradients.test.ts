import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import { gaussian, initBackend, seededRandom } from "advanced-neural-models";
import { convInfo } from "advanced-neural-models/dist/backend/conv-grad";
import { GRADIENT_BACKENDS, values } from "./helpers";

/**
 * Gradients of the convolution family on the fallback backends, checked against float64
 * brute-force loops: for L = sum(y * r) with a fixed random r, dL/dx and dL/dw are accumulated
 * element by element from the convolution's definition.
 */

type Case = {
  b: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: [number, number];
  s: [number, number];
  d: [number, number];
  pad: "same" | "valid";
};

function randn(n: number, seed: number): Float64Array {
  const g = gaussian(seededRandom(seed));
  return Float64Array.from({ length: n }, g);
}

/** Float64 reference gradients of sum(conv(x, w) * r) (depthwise when `depthwise`). */
function referenceGrads(
  c: Case,
  x: Float64Array,
  w: Float64Array,
  r: Float64Array,
  depthwise: boolean,
) {
  const info = convInfo(
    [c.b, c.h, c.w, c.ci],
    [c.k[0], c.k[1], c.ci, c.co],
    c.s,
    c.pad,
    c.d,
    undefined,
    depthwise,
  );
  const { outHeight: oh, outWidth: ow } = info;
  const outC = depthwise ? c.ci * c.co : c.co;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < c.b; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < outC; o++) {
          const g = r[((b * oh + i) * ow + j) * outC + o];
          for (let ky = 0; ky < c.k[0]; ky++)
            for (let kx = 0; kx < c.k[1]; kx++) {
              const yy = i * c.s[0] + ky * c.d[0] - info.padInfo.top;
              const xx = j * c.s[1] + kx * c.d[1] - info.padInfo.left;
              if (yy < 0 || yy >= c.h || xx < 0 || xx >= c.w) continue;
              const channels = depthwise
                ? [Math.floor(o / c.co)]
                : Array.from({ length: c.ci }, (_, q) => q);
              for (const ci of channels) {
                const xi = ((b * c.h + yy) * c.w + xx) * c.ci + ci;
                const wi = depthwise
                  ? ((ky * c.k[1] + kx) * c.ci + ci) * c.co + (o % c.co)
                  : ((ky * c.k[1] + kx) * c.ci + ci) * c.co + o;
                dx[xi] += w[wi] * g;
                dw[wi] += x[xi] * g;
              }
            }
        }
  return { dx, dw, outShape: [c.b, oh, ow, outC] };
}

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return num / (den || 1);
}

/**
 * Messages with which a backend refuses strides and dilations it does not implement: tfjs-core's
 * (strides and dilations both above 1), and TensorFlow's eager CPU depthwise kernel's (unequal
 * strides, any dilation; whether TensorFlow routes the op to oneDNN, which has no such limit,
 * depends on the CPU).
 */
const REFUSALS = new RegExp(
  [
    "Either strides or dilations must be 1",
    "only supports equal length strides in the row and column dimensions",
    "Current kernel implementation does not support dilations",
  ].join("|"),
);

/**
 * Whether this backend refuses `c`'s strides and dilations for the op (with one of
 * {@link REFUSALS}, which is checked: any other error fails the test).
 */
function refusesStridedDilated(c: Case, depthwise: boolean): boolean {
  const x = tf.zeros([c.b, c.h, c.w, c.ci]) as tf.Tensor4D;
  const w = tf.zeros([c.k[0], c.k[1], c.ci, c.co]) as tf.Tensor4D;
  const op = depthwise ? tf.depthwiseConv2d : tf.conv2d;
  try {
    tf.tidy(() => op(x, w, c.s, c.pad, "NHWC", c.d));
    return false;
  } catch (e) {
    assert.match((e as Error).message, REFUSALS);
    return true;
  } finally {
    tf.dispose([x, w]);
  }
}

const cases: Case[] = [
  { b: 2, h: 7, w: 9, ci: 3, co: 4, k: [3, 3], s: [1, 1], d: [1, 1], pad: "same" },
  { b: 2, h: 8, w: 7, ci: 2, co: 3, k: [3, 3], s: [2, 2], d: [1, 1], pad: "same" },
  { b: 3, h: 9, w: 9, ci: 2, co: 2, k: [5, 3], s: [2, 1], d: [1, 1], pad: "valid" },
  { b: 2, h: 11, w: 10, ci: 2, co: 3, k: [3, 3], s: [1, 1], d: [2, 2], pad: "same" },
  { b: 2, h: 11, w: 9, ci: 1, co: 2, k: [3, 2], s: [1, 1], d: [2, 3], pad: "valid" },
  { b: 1, h: 6, w: 5, ci: 2, co: 2, k: [2, 2], s: [3, 3], d: [1, 1], pad: "same" },
  // output channels a multiple of 4: the SIMD filter-gradient kernel
  // on wasm (tiles of 4 and 1 input, 8 and 4 output channels)
  { b: 2, h: 9, w: 7, ci: 7, co: 12, k: [3, 3], s: [2, 2], d: [1, 1], pad: "same" },
  { b: 3, h: 10, w: 11, ci: 9, co: 8, k: [3, 3], s: [1, 1], d: [2, 2], pad: "valid" },
  { b: 2, h: 6, w: 13, ci: 5, co: 20, k: [1, 4], s: [1, 3], d: [1, 1], pad: "same" },
  // strides and dilations both above 1: refused by tfjs except by wasm's depthwise kernel
  { b: 1, h: 9, w: 9, ci: 2, co: 2, k: [3, 3], s: [2, 2], d: [2, 2], pad: "valid" },
];

for (const backend of GRADIENT_BACKENDS) {
  describe(`convolution gradients on ${backend} vs float64 brute force`, () => {
    before(async () => {
      await initBackend({ backend, quiet: true });
    });
    after(async () => {
      await initBackend({ backend: "wasm", quiet: true });
    });

    for (const depthwise of [false, true]) {
      for (const c of cases) {
        const op = depthwise ? "depthwise" : "conv2d";
        const label = `${op} ${c.b}x${c.h}x${c.w}x${c.ci} k${c.k} s${c.s} d${c.d} ${c.pad}`;
        it(label, async function () {
          // strides and dilations both above 1: tfjs-core's conv2d refuses them on every
          // backend, its cpu depthwise kernel too (wasm's depthwise kernel runs them, with the
          // dilated gradient of fallback-kernels.ts); TensorFlow's eager CPU depthwise kernel
          // also refuses unequal strides and dilations on some CPUs. Where refused there is no
          // gradient to check: pending
          const unusual = c.s[0] !== c.s[1] || c.d.some((v) => v > 1);
          if (unusual && refusesStridedDilated(c, depthwise)) this.skip();
          const x = randn(c.b * c.h * c.w * c.ci, 1);
          const w = randn(c.k[0] * c.k[1] * c.ci * c.co, 2);
          const ref0 = referenceGrads(c, x, w, new Float64Array(0), depthwise);
          const r = randn(
            ref0.outShape.reduce((a, v) => a * v, 1),
            3,
          );
          const ref = referenceGrads(c, x, w, r, depthwise);
          const before = tf.memory().numTensors;
          const [gx, gw] = await values(() => {
            const xt = tf.tensor4d(Float32Array.from(x), [c.b, c.h, c.w, c.ci]);
            const wt = tf.tensor4d(Float32Array.from(w), [c.k[0], c.k[1], c.ci, c.co]);
            const rt = tf.tensor(Float32Array.from(r), ref.outShape);
            const f = (a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(
                tf.mul(
                  depthwise
                    ? tf.depthwiseConv2d(
                        a as tf.Tensor4D,
                        b as tf.Tensor4D,
                        c.s,
                        c.pad,
                        "NHWC",
                        c.d,
                      )
                    : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad, "NHWC", c.d),
                  rt,
                ),
              );
            return tf.grads(f)([xt, wt]);
          });
          assert.strictEqual(tf.memory().numTensors, before, "no tensors leaked");
          assert.ok(relErr(gx, ref.dx) < 1e-5, `dx relative error ${relErr(gx, ref.dx)}`);
          assert.ok(relErr(gw, ref.dw) < 1e-5, `dw relative error ${relErr(gw, ref.dw)}`);
        });
      }
    }

    it("Conv2DTranspose (strides 2 and 4) has the adjoint's gradients", async () => {
      for (const s of [2, 4]) {
        const c: Case = {
          b: 2,
          h: 9,
          w: 7,
          ci: 3,
          co: 2,
          k: [3, 3],
          s: [s, s],
          d: [1, 1],
          pad: "same",
        };
        // conv2dTranspose(y, w) is the x-gradient of conv2d; its
        // own gradients are conv2d (for y) and the filter gradient.
        const x = randn(c.b * c.h * c.w * c.ci, 5);
        const w = randn(9 * c.ci * c.co, 6);
        const { outShape } = referenceGrads(c, x, w, new Float64Array(0), false);
        const y = randn(
          outShape.reduce((a, v) => a * v, 1),
          7,
        );
        // d/dx <conv(x,w), y> = convT(y, w); d/dw = filter grad
        const ref = referenceGrads(c, x, w, y, false);
        const [gy, gw, out] = await values(() => {
          const yt = tf.tensor4d(
            Float32Array.from(y),
            outShape as [number, number, number, number],
          );
          const wt = tf.tensor4d(Float32Array.from(w), [3, 3, c.ci, c.co]);
          const xt = tf.tensor4d(Float32Array.from(x), [c.b, c.h, c.w, c.ci]);
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.conv2dTranspose(
                  a as tf.Tensor4D,
                  b as tf.Tensor4D,
                  [c.b, c.h, c.w, c.ci],
                  s,
                  "same",
                ),
                xt,
              ),
            );
          return [
            ...tf.grads(f)([yt, wt]),
            tf.conv2dTranspose(yt, wt, [c.b, c.h, c.w, c.ci], s, "same"),
          ];
        });
        assert.ok(
          relErr(out, ref.dx) < 1e-5,
          `forward (stride ${s}) relative error ${relErr(out, ref.dx)}`,
        );
        // <convT(y, w), x> = <y, conv(x, w)>: its y-gradient is
        // conv(x, w), its w-gradient equals conv's w-gradient.
        const [conv] = await values(() => [
          tf.conv2d(
            tf.tensor4d(Float32Array.from(x), [c.b, c.h, c.w, c.ci]),
            tf.tensor4d(Float32Array.from(w), [3, 3, c.ci, c.co]),
            s,
            "same",
          ),
        ]);
        assert.ok(relErr(gy, conv) < 1e-5, `dy (stride ${s}) relative error ${relErr(gy, conv)}`);
        assert.ok(
          relErr(gw, ref.dw) < 1e-5,
          `dw (stride ${s}) relative error ${relErr(gw, ref.dw)}`,
        );
      }
    });

    it("UpSampling2D (nearest) sends each gradient to its source pixel, every batch index", async () => {
      const [b, h, w, ch] = [3, 3, 4, 2];
      const r = randn(b * 2 * h * 3 * w * ch, 9);
      const [g] = await values(() => {
        const x = tf.zeros([b, h, w, ch]);
        const f = (a: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [2 * h, 3 * w]),
              tf.tensor(Float32Array.from(r), [b, 2 * h, 3 * w, ch]),
            ),
          );
        return [tf.grad(f)(x)];
      });
      const expected = new Float64Array(b * h * w * ch);
      for (let n = 0; n < b; n++)
        for (let i = 0; i < 2 * h; i++)
          for (let j = 0; j < 3 * w; j++)
            for (let q = 0; q < ch; q++) {
              expected[((n * h + Math.floor(i / 2)) * w + Math.floor(j / 3)) * ch + q] +=
                r[((n * 2 * h + i) * 3 * w + j) * ch + q];
            }
      assert.ok(relErr(g, expected) < 1e-5, `relative error ${relErr(g, expected)}`);
    });

    for (const [h, w, k, st, pad] of [
      [7, 7, 2, 2, "same"],
      [6, 5, 3, 2, "same"],
      [6, 6, 2, 2, "valid"],
      [9, 8, 3, 3, "valid"],
    ] as const) {
      it(`avg, max pool ${h}x${w} size ${k} stride ${st} ${pad}: gradients, float64 loops`, async () => {
        const [b, c] = [2, 3];
        const x = randn(b * h * w * c, 21);
        const info = tf.backend_util.computePool2DInfo([b, h, w, c], k, st, 1, pad);
        const { outHeight: oh, outWidth: ow } = info;
        const r = randn(b * oh * ow * c, 22);
        const avg = new Float64Array(x.length);
        const max = new Float64Array(x.length);
        for (let n = 0; n < b; n++)
          for (let i = 0; i < oh; i++)
            for (let j = 0; j < ow; j++)
              for (let q = 0; q < c; q++) {
                const cells: number[] = [];
                for (let dy = 0; dy < k; dy++)
                  for (let dx = 0; dx < k; dx++) {
                    const yy = i * st + dy - info.padInfo.top;
                    const xx = j * st + dx - info.padInfo.left;
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                      cells.push(((n * h + yy) * w + xx) * c + q);
                  }
                const g = r[((n * oh + i) * ow + j) * c + q];
                // Keras/TF: padding is not counted
                for (const p of cells) avg[p] += g / cells.length;
                const best = cells.reduce((a, p) => (x[p] > x[a] ? p : a), cells[0]);
                max[best] += g;
              }
        const [ga, gm] = await values(() => {
          const xt = tf.tensor4d(Float32Array.from(x), [b, h, w, c]);
          const rt = tf.tensor4d(Float32Array.from(r), [b, oh, ow, c]);
          return [
            tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, k, st, pad), rt)))(
              xt,
            ),
            tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, st, pad), rt)))(
              xt,
            ),
          ];
        });
        assert.ok(relErr(ga, avg) < 1e-5, `avg pool gradient relative error ${relErr(ga, avg)}`);
        assert.ok(relErr(gm, max) < 1e-6, `max pool gradient relative error ${relErr(gm, max)}`);
      });
    }

    it("max pooling routes a tied window's gradient to its first maximum only (ReLU zeros)", async () => {
      const [g] = await values(() => [
        tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid")))(
          tf.zeros([1, 4, 4, 1]),
        ),
      ]);
      assert.deepStrictEqual(Array.from(g), [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    });

    it("matMul with transpose flags gives the plain product's values", async () => {
      const a = randn(6 * 4, 11);
      const b = randn(6 * 5, 12);
      const [got] = await values(() => [
        tf.matMul(
          tf.tensor2d(Float32Array.from(a), [6, 4]),
          tf.tensor2d(Float32Array.from(b), [6, 5]),
          true,
          false,
        ),
      ]);
      const want = new Float64Array(20);
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 5; j++)
          for (let k = 0; k < 6; k++) want[i * 5 + j] += a[k * 4 + i] * b[k * 5 + j];
      assert.ok(relErr(got, want) < 1e-6);
      const [got2] = await values(() => [
        tf.matMul(
          tf.tensor2d(Float32Array.from(a), [6, 4]),
          tf.tensor2d(Float32Array.from(a), [6, 4]),
          false,
          true,
        ),
      ]);
      const want2 = new Float64Array(36);
      for (let i = 0; i < 6; i++)
        for (let j = 0; j < 6; j++)
          for (let k = 0; k < 4; k++) want2[i * 6 + j] += a[i * 4 + k] * a[j * 4 + k];
      assert.ok(relErr(got2, want2) < 1e-6);
    });
  });
}

describe("convolution filter gradient of large batches (computed in batch slices)", () => {
  it("equals the sum of the gradients of the two halves of the batch", async () => {
    await initBackend({ backend: "wasm", quiet: true });
    const { conv2dFilterGrad } = await import("advanced-neural-models/dist/backend/conv-grad");
    const [full, halves] = tf.tidy(() => {
      // 9*64*32*32 floats of patches per image: sliced
      const x = tf.randomNormal([48, 32, 32, 64], 0, 1, "float32", 31) as tf.Tensor4D;
      const info = convInfo(x.shape, [3, 3, 64, 4], 1, "same");
      const dy = tf.randomNormal([48, 32, 32, 4], 0, 1, "float32", 32) as tf.Tensor4D;
      const half = (s: number) =>
        conv2dFilterGrad(
          tf.slice(x, [s, 0, 0, 0], [24, -1, -1, -1]),
          tf.slice(dy, [s, 0, 0, 0], [24, -1, -1, -1]),
          { ...info, batchSize: 24 },
        );
      return [conv2dFilterGrad(x, dy, info).dataSync(), tf.add(half(0), half(24)).dataSync()];
    });
    assert.ok(relErr(full, halves) < 1e-5, `relative error ${relErr(full, halves)}`);
  });
});

describe("filter gradient as one convolution (the wasm fast path for stride 1)", () => {
  // the im2col gradient is itself checked against float64 loops
  it("equals the im2col filter gradient for same, asymmetric-same and valid padding", async () => {
    await initBackend({ backend: "wasm", quiet: true });
    const { conv2dFilterGrad, conv2dFilterGradByConv } =
      await import("advanced-neural-models/dist/backend/conv-grad");
    const shapes = [
      { b: 3, h: 9, w: 8, ci: 8, co: 5, k: [3, 3], pad: "same" as const },
      { b: 2, h: 7, w: 10, ci: 16, co: 3, k: [2, 4], pad: "same" as const },
      { b: 4, h: 11, w: 6, ci: 9, co: 2, k: [5, 3], pad: "valid" as const },
    ];
    for (const c of shapes) {
      const [a, b] = tf.tidy(() => {
        const x = tf.randomNormal([c.b, c.h, c.w, c.ci], 0, 1, "float32", 41) as tf.Tensor4D;
        const info = convInfo(x.shape, [c.k[0], c.k[1], c.ci, c.co], 1, c.pad);
        const dy = tf.randomNormal(
          [c.b, info.outHeight, info.outWidth, c.co],
          0,
          1,
          "float32",
          42,
        ) as tf.Tensor4D;
        return [
          conv2dFilterGrad(x, dy, info).dataSync(),
          conv2dFilterGradByConv(x, dy, info).dataSync(),
        ];
      });
      assert.strictEqual(a.length, c.k[0] * c.k[1] * c.ci * c.co);
      assert.ok(relErr(b, a) < 1e-5, `${JSON.stringify(c)}: relative error ${relErr(b, a)}`);
    }
  });
});
