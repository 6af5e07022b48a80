import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  DecayedAdam,
  DisplayContent,
  initBackend,
  loadMnist,
  mnistCnn,
  seedGlobalRandom,
  setDisplaySink,
  train,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

/** `count` MNIST images from `start` as [n, 28, 28, 1] in [0, 1] and one-hot labels. */
function batch(split: "train" | "test", start: number, count: number): [tf.Tensor4D, tf.Tensor2D] {
  const d = loadMnist(split);
  return tf.tidy(() => [
    tf.tensor4d(
      Float32Array.from(d.images.subarray(start * 784, (start + count) * 784), (v) => v / 255),
      [count, 28, 28, 1],
    ),
    tf
      .oneHot(tf.tensor1d(Array.from(d.labels.subarray(start, start + count)), "int32"), 10)
      .cast("float32") as tf.Tensor2D,
  ]);
}

describe("a short MNIST run with the book's network", function () {
  this.timeout(10 * 60 * 1000);
  afterEach(() => setDisplaySink(undefined));

  // tensors flat across epochs; the live view is updated in place
  it("reaches >= 0.9 test accuracy on 6,000 samples in 3 epochs, tensors flat", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const restore = seedGlobalRandom(7); // initial weights, shuffling and dropout masks
    const model = mnistCnn();
    model.compile({
      optimizer: new DecayedAdam(1e-3, 1e-5),
      loss: "categoricalCrossentropy",
      metrics: ["accuracy"],
    });
    const [x, y] = batch("train", 0, 6000);
    const [xt, yt] = batch("test", 0, 2000);
    const counts: number[] = [];
    const messages: { content: DisplayContent; update: boolean }[] = [];
    setDisplaySink((content, update) => messages.push({ content, update }));
    const result = await train(model, x, y, {
      epochs: 3,
      batchSize: 64,
      validationData: [xt, yt],
      callbacks: [
        new (class extends tf.Callback {
          async onEpochEnd() {
            counts.push(tf.memory().numTensors);
          }
        })(),
      ],
    });
    restore();
    assert.ok(
      counts.every((c) => c === counts[0]),
      `tensors at the end of each epoch: ${counts.join(", ")}`,
    );
    const valAcc = result.history.val_acc ?? result.history.val_accuracy;
    assert.ok(valAcc[valAcc.length - 1] >= 0.9, `test accuracy ${valAcc}`);
    assert.strictEqual(result.epochSeconds.length, 3);
    // live view: a text output and a chart output, each published once and then updated in place
    const ids = new Map<string, boolean[]>();
    for (const m of messages) {
      const id = m.content.transient.display_id!;
      (ids.get(id) ?? ids.set(id, []).get(id)!).push(m.update);
    }
    assert.strictEqual(ids.size, 2);
    for (const updates of ids.values())
      assert.deepStrictEqual(
        updates.map((u, i) => u === i > 0),
        updates.map(() => true),
      );
    const last = messages[messages.length - 1].content.data;
    assert.ok(
      "application/vnd.vegalite.v5+json" in last,
      "the chart output carries the history chart",
    );
    tf.dispose([x, y, xt, yt]);
    model.dispose();
  });
});
