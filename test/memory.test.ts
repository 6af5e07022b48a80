import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  activationsPerSample,
  checkBatchFits,
  estimateTrainingBytes,
  fashionCnn,
  initBackend,
  train,
} from "advanced-neural-models";
import { joinedRegExp } from "./helpers";

describe("wasm memory guard", () => {
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("counts every layer's output floats per sample", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        tf.layers.reshape({ targetShape: [3, 1] }),
        tf.layers.flatten(),
      ],
    });
    assert.strictEqual(activationsPerSample(m), 3 + 3 + 3);
    assert.strictEqual(estimateTrainingBytes(m, 10), 150e6 + 16 * m.countParams() + 6 * 4 * 10 * 9);
  });

  // the book's batch measured 3.0 GB; the refusal names the largest batch that fits
  it("accepts the book's Fashion batch, refuses 512 on wasm (not cpu), says what fits", () => {
    const m = fashionCnn();
    assert.doesNotThrow(() => checkBatchFits(m, 256, "wasm"));
    assert.throws(
      () => checkBatchFits(m, 512, "wasm"),
      joinedRegExp(
        /a batch of 512 would need about 5\.\d GB of wasm memory for "fashion_cnn", /,
        /but the wasm heap ends at 4 GiB; use batchSize <= 336/,
      ),
    );
    assert.doesNotThrow(() => checkBatchFits(m, 512, "cpu"));
    m.dispose();
  });

  it("train() refuses before any work, and judges the batch the data really gives", async () => {
    const m = fashionCnn();
    m.compile({ optimizer: tf.train.adam(1e-4), loss: "categoricalCrossentropy" });
    const x = tf.zeros([4, 28, 28, 1]),
      y = tf.zeros([4, 10]);
    const started = Date.now();
    await assert.rejects(
      train(m, tf.zeros([600, 28, 28, 1]), tf.zeros([600, 10]), {
        epochs: 1,
        batchSize: 600,
        progress: false,
        threads: 1,
      }),
      joinedRegExp(
        /a batch of 600 would need about [\d.]+ GB of wasm memory for "fashion_cnn"/,
        /.*use batchSize <= 336,/,
      ),
    );
    // data-parallel: each thread's heap holds one shard
    assert.throws(
      () => checkBatchFits(m, 800, "wasm", 2),
      joinedRegExp(
        /a batch of 800 \(400 rows on each of 2 threads\) would need about [\d.]+ GB /,
        /of wasm memory per thread .*use batchSize <= 672,/,
      ),
    );
    assert.doesNotThrow(() => checkBatchFits(m, 600, "wasm", 2));
    assert.ok(Date.now() - started < 5000, "refused without training");
    // only 4 samples: a batch of 4
    const r = await train(m, x, y, { epochs: 1, batchSize: 600, progress: false });
    assert.strictEqual(r.history.loss.length, 1);
    tf.dispose([x, y]);
    m.dispose();
  });
});
