import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  crossImage,
  initBackend,
  layerCost,
  randomMatrix,
  randomPatches,
  relativeDistance,
  standardConvParams,
  translate,
} from "advanced-neural-models";

describe("synthetic images", () => {
  it("crossImage draws two bars of the requested size", () => {
    const c = crossImage(64, 16, 6);
    const lit = c.data.reduce((a, v) => a + v, 0);
    const bar = 2 * 16 + 6;
    assert.strictEqual(lit, 2 * bar * 6 - 6 * 6); // two bars minus the shared centre square
  });

  it("translate moves every pixel and blanks what enters", () => {
    const m = randomMatrix(5, 6, 1);
    const t = translate(m, 2, -1);
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 6; j++) {
        const si = i - 2,
          sj = j + 1;
        const want = si >= 0 && si < 5 && sj >= 0 && sj < 6 ? m.data[si * 6 + sj] : 0;
        assert.strictEqual(t.data[i * 6 + j], want);
      }
  });

  it("relativeDistance is 0 for equal maps and sqrt(2) for disjoint ones of equal energy", () => {
    const a = crossImage(32, 4, 2, 8);
    assert.strictEqual(relativeDistance(a, a), 0);
    assert.ok(Math.abs(relativeDistance(a, translate(a, 16, 16)) - Math.SQRT2) < 1e-12);
  });

  it("randomPatches is reproducible and reads the right pixels", () => {
    const m = randomMatrix(20, 30, 3);
    const [p] = randomPatches(m, 4, 1, 5);
    assert.deepStrictEqual(randomPatches(m, 4, 1, 5)[0].data, p.data);
    // the patch occurs in the image
    let found = false;
    for (let r = 0; r <= 16 && !found; r++)
      for (let c = 0; c <= 26 && !found; c++)
        found = p.data.every((v, k) => v === m.data[(r + Math.floor(k / 4)) * 30 + c + (k % 4)]);
    assert.ok(found);
    assert.throws(() => randomPatches(m, 25, 1), /patch 25 is larger than the 20x30 image/);
  });
});

describe("layerCost", () => {
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });
  it("counts parameters and multiply-adds of convolutions and pooling", () => {
    const conv = layerCost(
      "c",
      tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same" }),
      [10, 9, 4],
    );
    assert.strictEqual(conv.output, "5x5x8");
    assert.strictEqual(conv.params, standardConvParams(3, 3, 4, 8, true));
    assert.strictEqual(conv.macs, 5 * 5 * 9 * 4 * 8);
    const pool = layerCost("p", tf.layers.maxPooling2d({ poolSize: 2 }), [10, 8, 3]);
    assert.deepStrictEqual([pool.output, pool.params, pool.macs], ["5x4x3", 0, 5 * 4 * 3 * 4]);
    const sep = layerCost(
      "s",
      tf.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: "same", useBias: false }),
      [8, 8, 4],
    );
    assert.strictEqual(sep.macs, 64 * 9 * 4 + 64 * 4 * 6);
  });
});
