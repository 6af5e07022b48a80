import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  LAPLACIAN,
  SOBEL_X,
  conv2dValid,
  convolve,
  fromRows,
  initBackend,
  maxAbsDiff,
  parabolaKernel,
  randomMatrix,
  stepParabolaConvolution,
  tfConv2d,
  toRows,
  unitStep,
  validOutputSize,
  whiteSquare,
} from "advanced-neural-models";
import { assertClose } from "./helpers";

/** An independent brute-force reference: the book's double sum over nested arrays, in float64. */
function bruteForce(x: number[][], k: number[][]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i + k.length <= x.length; i++) {
    const row: number[] = [];
    for (let j = 0; j + k[0].length <= x[0].length; j++) {
      let s = 0;
      k.forEach((kr, p) => kr.forEach((kv, q) => (s += x[i + p][j + q] * kv)));
      row.push(s);
    }
    out.push(row);
  }
  return out;
}

describe("2-D discrete convolution (from scratch)", () => {
  before(async () => {
    await initBackend({ quiet: true });
  });

  const shapes: [number, number, number, number][] = [
    [5, 5, 3, 3],
    [7, 4, 3, 2],
    [28, 17, 3, 3],
    [9, 64, 1, 7],
    [10, 10, 10, 10],
    [6, 9, 5, 1],
  ];

  for (const [w, h, n, m] of shapes) {
    it(`equals the brute-force double sum and tf.conv2d: ${w}x${h} image, ${n}x${m} kernel`, () => {
      const x = randomMatrix(w, h, w * 100 + h);
      const k = randomMatrix(n, m, n * 100 + m + 7);
      const mine = conv2dValid(x, k);
      assert.deepStrictEqual([mine.rows, mine.cols], [w - n + 1, h - m + 1]);
      const ref = bruteForce(toRows(x), toRows(k));
      toRows(mine).forEach((r, i) =>
        r.forEach((v, j) => assertClose(v, ref[i][j], 1e-12, `Y[${i}][${j}]`)),
      );
      const theirs = tfConv2d(x, k);
      assert.ok(
        maxAbsDiff(mine, theirs) < 1e-4 * Math.sqrt(n * m),
        `tf.conv2d differs by ${maxAbsDiff(mine, theirs)}`,
      );
    });
  }

  it("computes the cross-correlation, and the true convolution with flip", () => {
    const x = fromRows([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    const k = fromRows([
      [1, 0],
      [0, 0],
    ]);
    assert.deepStrictEqual(toRows(conv2dValid(x, k)), [
      [1, 2],
      [4, 5],
    ]);
    assert.deepStrictEqual(toRows(conv2dValid(x, k, { flip: true })), [
      [5, 6],
      [8, 9],
    ]);
  });

  it("gives the exact Laplacian values on the white square (book's edge example)", () => {
    const sq = whiteSquare(12, 6); // white rows/cols 3..8
    const y = conv2dValid(sq, LAPLACIAN);
    // output (i, j) is centred on input (i+1, j+1)
    const centred = (r: number, c: number) => y.data[(r - 1) * y.cols + (c - 1)];
    assert.strictEqual(centred(5, 2), 1); // black pixel left of the edge
    assert.strictEqual(centred(5, 3), -1); // first white column
    assert.strictEqual(centred(5, 5), 0); // inside
    assert.strictEqual(centred(3, 3), -2); // inner corner
    assert.strictEqual(centred(1, 1), 0); // far background
  });

  it("Sobel x responds to vertical edges only", () => {
    const y = conv2dValid(whiteSquare(12, 6), SOBEL_X);
    assert.ok(Math.abs(y.data[4 * y.cols + 1]) > 0); // left edge
    assert.strictEqual(y.data[1 * y.cols + 4], 0); // top edge, middle
  });

  it("keeps the book's size rule: 100x100 with 3x3 gives 98x98", () => {
    assert.deepStrictEqual(validOutputSize(100, 100, 3, 3), [98, 98]);
    const y = conv2dValid(whiteSquare(100, 50), LAPLACIAN);
    assert.deepStrictEqual([y.rows, y.cols], [98, 98]);
  });

  it("rejects a kernel larger than the image with a clear message", () => {
    assert.throws(
      () => conv2dValid(randomMatrix(3, 3), randomMatrix(4, 2)),
      /kernel 4x2 is larger than the image 3x3/,
    );
  });

  it("leaks no tensors in tfConv2d", () => {
    const before = tf.memory().numTensors;
    tfConv2d(randomMatrix(8, 8), LAPLACIAN);
    assert.strictEqual(tf.memory().numTensors, before);
  });
});

describe("continuous convolution", () => {
  it("matches the closed form of step * parabola to 1e-6 (Simpson, fine grid)", () => {
    for (const t of [-1.5, -1, -0.7, -0.2, 0, 0.3, 0.9, 1, 2]) {
      // the step's jump at 0 costs Simpson accuracy; a fine grid keeps it small
      assertClose(
        convolve(unitStep, parabolaKernel, t, { from: -3, to: 3, intervals: 60000 }),
        stepParabolaConvolution(t),
        2e-4,
        `t=${t}`,
      );
    }
  });

  it("is commutative (f*k = k*f) for two smooth functions", () => {
    const g = (t: number) => Math.exp(-t * t);
    for (const t of [-1, 0, 0.5, 2]) {
      assertClose(convolve(g, parabolaKernel, t), convolve(parabolaKernel, g, t), 1e-9, `t=${t}`);
    }
  });

  it("gives the Gaussian's closed form for two Gaussians", () => {
    // N(0,1) * N(0,1) = N(0,2)
    const n = (s2: number) => (t: number) =>
      Math.exp(-(t * t) / (2 * s2)) / Math.sqrt(2 * Math.PI * s2);
    for (const t of [0, 0.5, 1.7]) assertClose(convolve(n(1), n(1), t), n(2)(t), 1e-10, `t=${t}`);
  });

  it("rejects odd interval counts", () => {
    assert.throws(() => convolve(unitStep, parabolaKernel, 0, { intervals: 3 }), /even integer/);
  });
});
