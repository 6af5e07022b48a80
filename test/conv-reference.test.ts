import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  LAPLACIAN,
  Matrix,
  SOBEL_X,
  axisGeometry,
  conv2d,
  conv2dChannels,
  conv2dSeparable,
  conv2dTranspose,
  crop,
  depthwiseConv2d,
  depthwiseSeparableConv2d,
  depthwiseSeparableParams,
  depthwiseSeparableRatio,
  flatten,
  initBackend,
  maxAbsDiff,
  pool2d,
  randomMatrix,
  rankOneSplit,
  receptiveField,
  separableConvOps,
  standardConvOps,
  standardConvParams,
  upsampleNearest,
  zeroPad,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

/** Channels as a [1, H, W, C] tensor. */
function toTensor(maps: Matrix[]): tf.Tensor4D {
  const { rows, cols } = maps[0];
  const data = new Float32Array(rows * cols * maps.length);
  maps.forEach((m, c) => m.data.forEach((v, p) => (data[p * maps.length + c] = v)));
  return tf.tensor4d(data, [1, rows, cols, maps.length]);
}

/** A [1, H, W, C] tensor back to channels. */
function fromTensor(t: tf.Tensor): Matrix[] {
  const [, rows, cols, ch] = t.shape;
  const v = t.dataSync();
  return Array.from({ length: ch }, (_, c) => ({
    rows,
    cols,
    data: Float64Array.from({ length: rows * cols }, (_, p) => v[p * ch + c]),
  }));
}

/** Runs a tensor computation and reads the result back as channels, leaking nothing. */
function viaTf(f: () => tf.Tensor): Matrix[] {
  const t = tf.tidy(f);
  try {
    return fromTensor(t);
  } finally {
    t.dispose();
  }
}

function filterTensor(kernels: Matrix[][]): tf.Tensor4D {
  // kernels[o][c] -> [kh, kw, c, o]
  const q = kernels.length;
  const p = kernels[0].length;
  const { rows, cols } = kernels[0][0];
  const data = new Float32Array(rows * cols * p * q);
  kernels.forEach((per, o) =>
    per.forEach((k, c) => k.data.forEach((v, s) => (data[(s * p + c) * q + o] = v))),
  );
  return tf.tensor4d(data, [rows, cols, p, q]);
}

function assertMapsClose(a: Matrix[], b: Matrix[], tol = 1e-4): void {
  assert.strictEqual(a.length, b.length, "channel count");
  a.forEach((m, i) => {
    assert.deepStrictEqual([m.rows, m.cols], [b[i].rows, b[i].cols], `channel ${i} shape`);
    assert.ok(maxAbsDiff(m, b[i]) < tol, `channel ${i} differs by ${maxAbsDiff(m, b[i])}`);
  });
}

describe("reference convolution ops vs tfjs", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  const geometries: [
    number,
    number,
    number,
    number,
    [number, number],
    "same" | "valid",
    [number, number],
  ][] = [
    [9, 11, 3, 3, [1, 1], "valid", [1, 1]],
    [9, 11, 3, 3, [1, 1], "same", [1, 1]],
    [10, 9, 3, 2, [2, 1], "same", [1, 1]],
    [10, 9, 3, 3, [1, 2], "valid", [1, 1]],
    [13, 12, 3, 3, [1, 1], "same", [2, 2]],
    [13, 12, 3, 3, [1, 1], "valid", [2, 2]],
    [8, 7, 4, 4, [2, 2], "same", [1, 1]],
  ];

  for (const [h, w, n, m, s, pad, d] of geometries) {
    it(`conv2d ${h}x${w} * ${n}x${m}, strides ${s}, ${pad}, dilation ${d}: shape, values`, () => {
      const x = [randomMatrix(h, w, 1), randomMatrix(h, w, 2)];
      const kernels = [
        [randomMatrix(n, m, 3), randomMatrix(n, m, 4)],
        [randomMatrix(n, m, 5), randomMatrix(n, m, 6)],
        [randomMatrix(n, m, 7), randomMatrix(n, m, 8)],
      ];
      const mine = conv2dChannels(x, kernels, { strides: s, padding: pad, dilation: d });
      const theirs = viaTf(() => tf.conv2d(toTensor(x), filterTensor(kernels), s, pad, "NHWC", d));
      assertMapsClose(mine, theirs);
      const g = [axisGeometry(h, n, s[0], d[0], pad).out, axisGeometry(w, m, s[1], d[1], pad).out];
      assert.deepStrictEqual([mine[0].rows, mine[0].cols], g);
    });
  }

  it("depthwise and separable convolutions equal tf.depthwiseConv2d, tf.separableConv2d", () => {
    const x = [randomMatrix(9, 8, 11), randomMatrix(9, 8, 12), randomMatrix(9, 8, 13)];
    const dk = [randomMatrix(3, 3, 14), randomMatrix(3, 3, 15), randomMatrix(3, 3, 16)];
    const pw = [
      [0.5, -1, 2],
      [1, 0.25, -0.5],
    ];
    const depthFilter = filterTensor([dk]).reshape([3, 3, 3, 1]) as tf.Tensor4D;
    assertMapsClose(
      depthwiseConv2d(x, dk, { padding: "same" }),
      viaTf(() => tf.depthwiseConv2d(toTensor(x), depthFilter, 1, "same")),
    );
    const pointFilter = tf.tensor4d([0.5, 1, -1, 0.25, 2, -0.5], [1, 1, 3, 2]);
    assertMapsClose(
      depthwiseSeparableConv2d(x, dk, pw, { padding: "valid" }),
      viaTf(() => tf.separableConv2d(toTensor(x), depthFilter, pointFilter, 1, "valid")),
    );
  });

  for (const [s, pad] of [
    [2, "same"],
    [2, "valid"],
    [4, "same"],
    [3, "valid"],
  ] as const) {
    it(`conv2dTranspose stride ${s} ${pad}: equals tf.conv2dTranspose, is conv2d's adjoint`, () => {
      const k = randomMatrix(3, 3, 21);
      const outShape: [number, number] = pad === "same" ? [4 * s, 3 * s] : [3 * s + 2, 2 * s + 3];
      const gy = [
        axisGeometry(outShape[0], 3, s, 1, pad).out,
        axisGeometry(outShape[1], 3, s, 1, pad).out,
      ];
      const y = randomMatrix(gy[0], gy[1], 22);
      const mine = conv2dTranspose(y, k, { strides: s, padding: pad, outputShape: outShape });
      const theirs = viaTf(() =>
        tf.conv2dTranspose(
          toTensor([y]),
          filterTensor([[k]]),
          [1, outShape[0], outShape[1], 1],
          s,
          pad,
        ),
      );
      assertMapsClose([mine], theirs);
      const x = randomMatrix(outShape[0], outShape[1], 23);
      const lhs = conv2d(x, k, { strides: s, padding: pad }).data.reduce(
        (a, v, i) => a + v * y.data[i],
        0,
      );
      const rhs = mine.data.reduce((a, v, i) => a + v * x.data[i], 0);
      assert.ok(
        Math.abs(lhs - rhs) < 1e-9 * Math.max(1, Math.abs(lhs)),
        `<conv x, y> ${lhs} vs <x, convT y> ${rhs}`,
      );
    });
  }

  it("the book's transposed convolution 128x128x256 -> 512x512x3, 3 filters, stride 4", () => {
    const layer = tf.layers.conv2dTranspose({
      filters: 3,
      kernelSize: 3,
      strides: 4,
      padding: "same",
    });
    assert.deepStrictEqual(layer.computeOutputShape([null, 128, 128, 256]), [null, 512, 512, 3]);
    assert.strictEqual(axisGeometry(512, 3, 4, 1, "same").out, 128);
  });

  for (const [h, w, k, s, pad] of [
    [8, 8, 2, 2, "valid"],
    [7, 9, 2, 2, "same"],
    [9, 9, 3, 2, "same"],
    [10, 7, 3, 3, "valid"],
  ] as const) {
    it(`max and average pooling ${h}x${w}, pool ${k}, stride ${s}, ${pad}`, () => {
      const x = randomMatrix(h, w, 31);
      for (const op of ["max", "avg"] as const) {
        const mine = pool2d(x, op, { size: k, strides: s, padding: pad });
        const theirs = viaTf(() =>
          (op === "max" ? tf.maxPool : tf.avgPool)(toTensor([x]), k, s, pad),
        );
        assertMapsClose([mine], theirs);
      }
    });
  }

  it("zero padding, upsampling, cropping and flatten match the tf layers", () => {
    const x = randomMatrix(4, 5, 41);
    const apply = (layer: tf.layers.Layer, maps: Matrix[]) =>
      tf.tidy(() => layer.apply(toTensor(maps)) as tf.Tensor);
    assertMapsClose(
      [zeroPad(x, 1, 2, 3, 0)],
      fromTensor(
        apply(
          tf.layers.zeroPadding2d({
            padding: [
              [1, 2],
              [3, 0],
            ],
          }),
          [x],
        ),
      ),
    );
    assertMapsClose(
      [upsampleNearest(x, [2, 3])],
      fromTensor(apply(tf.layers.upSampling2d({ size: [2, 3] }), [x])),
    );
    assertMapsClose(
      [crop(x, 1, 0, 2, 1)],
      fromTensor(
        apply(
          tf.layers.cropping2D({
            cropping: [
              [1, 0],
              [2, 1],
            ],
          }),
          [x],
        ),
      ),
    );
    const two = [x, randomMatrix(4, 5, 42)];
    const flat = apply(tf.layers.flatten(), two).dataSync();
    flatten(two).forEach((v, i) => assert.ok(Math.abs(v - flat[i]) < 1e-6));
  });
});

describe("separable kernels and counters", () => {
  it("Sobel is exactly rank 1; the Laplacian is not", () => {
    const sobel = rankOneSplit(SOBEL_X);
    assert.ok(sobel.separable);
    assert.ok(sobel.residualMax < 1e-12);
    assert.ok(sobel.singularValues[1] < 1e-9);
    const lap = rankOneSplit(LAPLACIAN);
    assert.ok(!lap.separable);
    // singular values of the Laplacian (symmetric): |eigenvalues| = 2+sqrt(8)...
    // computed independently: 1+sqrt(3)*... check via Frobenius norm
    const frob2 = LAPLACIAN.data.reduce((a, v) => a + v * v, 0);
    const sv2 = lap.singularValues.reduce((a, v) => a + v * v, 0);
    assert.ok(
      Math.abs(frob2 - sv2) < 1e-9,
      "sum of squared singular values = squared Frobenius norm",
    );
    const resid2 = lap.residual.data.reduce((a, v) => a + v * v, 0);
    assert.ok(
      Math.abs(resid2 - (sv2 - lap.singularValues[0] ** 2)) < 1e-9,
      "Eckart-Young: residual energy = discarded singular values",
    );
  });

  it("a separable kernel's two 1-D passes: the 2-D convolution, (n+m) not n*m mults/pixel", () => {
    const x = randomMatrix(20, 30, 51);
    const { column, row } = rankOneSplit(SOBEL_X);
    const full = { multiplies: 0 };
    const twoPass = { multiplies: 0 };
    const a = conv2d(x, SOBEL_X, { counter: full });
    const b = conv2dSeparable(x, column, row, { counter: twoPass });
    assert.ok(maxAbsDiff(a, b) < 1e-12);
    assert.strictEqual(full.multiplies, standardConvOps(20, 30, 3, 3));
    assert.strictEqual(twoPass.multiplies, separableConvOps(20, 30, 3, 3));
  });

  it("parameter formulas match tfjs's countParams and the ratio 1/q + 1/(nm)", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    for (const [n, p, q] of [
      [3, 8, 16],
      [5, 32, 64],
      [3, 3, 1],
    ]) {
      const std = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [16, 16, p], filters: q, kernelSize: n, useBias: false }),
        ],
      });
      const sep = tf.sequential({
        layers: [
          tf.layers.separableConv2d({
            inputShape: [16, 16, p],
            filters: q,
            kernelSize: n,
            useBias: false,
          }),
        ],
      });
      assert.strictEqual(std.countParams(), standardConvParams(n, n, p, q));
      assert.strictEqual(sep.countParams(), depthwiseSeparableParams(n, n, p, q));
      assert.ok(
        Math.abs(sep.countParams() / std.countParams() - depthwiseSeparableRatio(n, n, q)) < 1e-12,
      );
    }
  });

  it("receptive field k + (k-1)(d-1): 3x3 at rate 2 is 5x5; 9x9 needs rate 4", () => {
    assert.strictEqual(receptiveField(3, 1), 3);
    assert.strictEqual(receptiveField(3, 2), 5);
    assert.strictEqual(receptiveField(3, 4), 9);
    // measured: the output at one pixel depends on input pixels spanning receptiveField(3, d)
    for (const d of [1, 2, 4]) {
      const size = 2 * receptiveField(3, d) + 1;
      const impulse = randomMatrix(size, size, 0);
      impulse.data.fill(0);
      let span = 0;
      for (let c = 0; c < size; c++) {
        impulse.data.fill(0);
        impulse.data[Math.floor(size / 2) * size + c] = 1;
        const y = conv2d(
          impulse,
          { rows: 3, cols: 3, data: new Float64Array(9).fill(1) },
          { dilation: d, padding: "same" },
        );
        if (y.data[Math.floor(size / 2) * size + Math.floor(size / 2)] !== 0) span++;
      }
      assert.strictEqual(span, 3, "3 taps per row");
    }
  });

  it("rejects impossible geometry with a clear message", () => {
    assert.throws(
      () => conv2d(randomMatrix(3, 3), randomMatrix(3, 3), { dilation: 2 }),
      /effective size 5 does not fit an axis of 3/,
    );
    assert.throws(
      () => axisGeometry(10, 3, 0, 1, "same"),
      /stride must be a positive integer, got 0/,
    );
  });
});
