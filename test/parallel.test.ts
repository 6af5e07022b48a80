import * as os from "os";
import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  DataParallel,
  THREADS_ENV,
  initBackend,
  planThreads,
  seedGlobalRandom,
  sunspotRnn,
  train,
} from "advanced-neural-models";
import { joinedRegExp } from "./helpers";

/** A small CNN without dropout or BatchNorm: data-parallel and single-threaded steps must agree. */
function smallCnn(seed: number, batchNorm = false): tf.Sequential {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 2],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(1),
      }),
      ...(batchNorm ? [tf.layers.batchNormalization({ momentum: 0.5 })] : []),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: init(2) }),
    ],
  });
  m.compile({
    optimizer: tf.train.adam(1e-2),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return m;
}

function data(n: number): [tf.Tensor, tf.Tensor] {
  return [
    tf.randomUniform([n, 8, 8, 2], -1, 1, "float32", 7),
    tf.oneHot(tf.randomUniform([n], 0, 3, "int32", 8), 3),
  ];
}

function maxAbsDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  return Math.max(...a.map((t, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, b[i]))).dataSync()[0])));
}

describe("data-parallel training (worker threads)", function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("gives one thread's weights, losses and accuracies, up to float rounding", async () => {
    // batches of 33, 33 and 4 rows: uneven shards (16 + 17) weigh by their size
    const [x, y] = data(70);
    const single = smallCnn(1);
    const parallel = smallCnn(1);
    const a = await train(single, x, y, {
      epochs: 3,
      batchSize: 33,
      shuffle: false,
      progress: false,
      threads: 1,
    });
    const b = await train(parallel, x, y, {
      epochs: 3,
      batchSize: 33,
      shuffle: false,
      progress: false,
      threads: 2,
    });
    assert.strictEqual(a.threads.count, 1);
    assert.strictEqual(b.threads.count, 2);
    assert.ok(
      maxAbsDiff(single.getWeights(), parallel.getWeights()) < 2e-5,
      `weights differ by ${maxAbsDiff(single.getWeights(), parallel.getWeights())}`,
    );
    for (const k of ["loss", "acc"]) {
      a.history[k].forEach((v, e) =>
        assert.ok(
          Math.abs(v - b.history[k][e]) < 1e-5,
          `${k} epoch ${e}: ${v} vs ${b.history[k][e]}`,
        ),
      );
    }
    tf.dispose([x, y]);
    single.dispose();
    parallel.dispose();
  });

  it("averages the BatchNorm moving mean over the shards: the full-batch update", async () => {
    const [x, y] = data(64);
    const single = smallCnn(2, true);
    const parallel = smallCnn(2, true);
    await train(single, x, y, {
      epochs: 1,
      batchSize: 64,
      shuffle: false,
      progress: false,
      threads: 1,
    });
    await train(parallel, x, y, {
      epochs: 1,
      batchSize: 64,
      shuffle: false,
      progress: false,
      threads: 2,
    });
    const movingMean = (m: tf.LayersModel) => m.layers[1].getWeights()[2].dataSync();
    const expected = movingMean(single);
    const got = movingMean(parallel);
    expected.forEach((v, i) =>
      assert.ok(
        Math.abs(v - got[i]) < 1e-6 && Math.abs(v) > 1e-3,
        `moving mean ${i}: ${got[i]} vs ${v}`,
      ),
    );
    tf.dispose([x, y]);
    single.dispose();
    parallel.dispose();
  });

  it("keeps numTensors flat across epochs; gives the model back its own train step", async () => {
    const [x, y] = data(64);
    const model = smallCnn(3);
    const counts: number[] = [];
    const counter = new (class extends tf.Callback {
      override async onEpochEnd(): Promise<void> {
        counts.push(tf.memory().numTensors);
      }
    })();
    await train(model, x, y, {
      epochs: 4,
      batchSize: 32,
      progress: false,
      threads: 2,
      callbacks: [counter],
    });
    assert.deepStrictEqual(
      counts.slice(1),
      [counts[1], counts[1], counts[1]],
      `tensors per epoch: ${counts.join(", ")}`,
    );
    const core = (model as unknown as { model: object }).model;
    assert.ok(
      !Object.prototype.hasOwnProperty.call(core, "makeTrainFunction"),
      "the parallel step is still installed after training",
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  it("reproduces a seeded run exactly, dropout included", async () => {
    const run = async () => {
      const restore = seedGlobalRandom(11);
      try {
        const m = tf.sequential({
          layers: [
            tf.layers.flatten({ inputShape: [8, 8, 2] }),
            tf.layers.dropout({ rate: 0.5 }),
            tf.layers.dense({ units: 3, activation: "softmax" }),
          ],
        });
        m.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
        const [x, y] = data(64);
        const r = await train(m, x, y, { epochs: 2, batchSize: 64, progress: false, threads: 2 });
        tf.dispose([x, y]);
        m.dispose();
        return r.history.loss;
      } finally {
        restore();
      }
    };
    assert.deepStrictEqual(await run(), await run());
  });

  // the model has a layer class defined only in this thread
  it("falls back to one thread, saying why, when a worker cannot rebuild the model", async () => {
    class Doubling extends tf.layers.Layer {
      static className = "DoublingOnlyInThisThread";
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    tf.serialization.registerClass(Doubling);
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [8, 8, 2] }),
        new Doubling({}),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
    const [x, y] = data(64);
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warnings.push(m);
    try {
      const r = await train(model, x, y, { epochs: 1, batchSize: 64, progress: false, threads: 2 });
      assert.strictEqual(r.threads.count, 1);
      assert.match(
        r.threads.reason,
        joinedRegExp(
          /worker threads failed to start \(data-parallel training: /,
          /a worker failed to start: .*DoublingOnlyInThisThread/,
        ),
      );
      assert.strictEqual(r.history.loss.length, 1);
    } finally {
      console.warn = warn;
    }
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /^train: training on 1 thread instead of 2: /);
    tf.dispose([x, y]);
    model.dispose();
  });

  it("refuses a batch larger than the one it was started for, naming the limit", async () => {
    const model = smallCnn(4);
    const [x, y] = data(40);
    const dp = await DataParallel.start(model, 2, 16, "wasm");
    try {
      await assert.rejects(
        model.trainOnBatch(x, y),
        joinedRegExp(
          /a shard's inputs \(2560 values\) exceeds the space reserved for 1024; /,
          /batches larger than the batchSize given to train\(\)\?/,
        ),
      );
    } finally {
      await dp.close();
    }
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe("planThreads", () => {
  const saved = process.env[THREADS_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[THREADS_ENV];
    else process.env[THREADS_ENV] = saved;
  });

  it("splits only what can be split, and says why not otherwise", () => {
    const cnn = smallCnn(5);
    const cores = os.availableParallelism();
    assert.deepStrictEqual(planThreads(cnn, 256, Math.min(2, cores), "wasm"), {
      threads: Math.min(2, cores),
      reason: Math.min(2, cores) === 1 ? "1 thread requested" : "requested",
    });
    assert.strictEqual(
      planThreads(cnn, 256, 2, "tensorflow").reason,
      "the tensorflow backend runs its own threads",
    );
    assert.strictEqual(planThreads(cnn, 256, 1, "wasm").threads, 1);
    const auto = planThreads(cnn, 40, "auto", "wasm");
    assert.deepStrictEqual(auto, { threads: 1, reason: auto.reason });
    assert.match(
      auto.reason,
      /a batch of 40 is too small to split \(32 rows per thread at least\)|one core/,
    );
    const rnn = sunspotRnn({ cell: "lstm" });
    rnn.compile({ optimizer: "adam", loss: "meanSquaredError" });
    assert.strictEqual(
      planThreads(rnn, 256, 2, "wasm").reason,
      "a stateful RNN needs each batch whole, in order",
    );
    const custom = smallCnn(6);
    custom.compile({
      optimizer: "adam",
      loss: (a: tf.Tensor, b: tf.Tensor) => tf.losses.meanSquaredError(a, b),
    });
    assert.strictEqual(
      planThreads(custom, 256, 2, "wasm").reason,
      "a custom loss function cannot be sent to a worker thread",
    );
    process.env[THREADS_ENV] = "two";
    assert.throws(
      () => planThreads(cnn, 256, undefined, "wasm"),
      /threads must be a whole number >= 1 or "auto" \(from option or CH10_THREADS\), got "two"/,
    );
    process.env[THREADS_ENV] = "1";
    assert.strictEqual(planThreads(cnn, 256, undefined, "wasm").reason, "1 thread requested");
    [cnn, rnn, custom].forEach((m) => m.dispose());
  });
});
