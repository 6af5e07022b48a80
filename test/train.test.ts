import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  DecayedAdam,
  NaNGuard,
  PlateauSchedule,
  ReduceLROnPlateau,
  fileHandler,
  initBackend,
  loadCheckpoint,
  readMeta,
  saveCheckpoint,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-"));

/** A small deterministic model (no dropout) so that runs can be compared exactly. */
function tinyModel(optimizer: tf.Optimizer): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [3],
        units: 4,
        activation: "tanh",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  m.compile({ optimizer, loss: "meanSquaredError" });
  return m;
}
const xs = () =>
  tf.tensor2d([
    [0.1, 0.2, 0.3],
    [0.5, -0.4, 0.2],
    [-0.3, 0.8, -0.1],
    [0.9, 0.1, -0.6],
  ]);
const ys = () => tf.tensor2d([[0.5], [-0.2], [0.3], [0.1]]);

describe("DecayedAdam (Keras-2 decay)", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("uses lr / (1 + decay * t) before update t, else the Adam formula (float64 reference)", () => {
    const opt = new DecayedAdam(0.1, 0.5);
    const w = tf.variable(tf.scalar(1.0));
    // minimise (w - 3)^2: gradient 2(w - 3); reference Adam in float64
    let ref = 1.0,
      m = 0,
      v = 0;
    for (let t = 0; t < 4; t++) {
      assert.ok(Math.abs(opt.currentLearningRate() - 0.1 / (1 + 0.5 * t)) < 1e-15);
      opt.minimize(() => tf.square(tf.sub(w, 3)) as tf.Scalar);
      const g = 2 * (ref - 3);
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const mh = m / (1 - 0.9 ** (t + 1)),
        vh = v / (1 - 0.999 ** (t + 1));
      ref -= ((0.1 / (1 + 0.5 * t)) * mh) / (Math.sqrt(vh) + 1e-7);
      assert.ok(Math.abs(w.dataSync()[0] - ref) < 1e-5, `step ${t}: ${w.dataSync()[0]} vs ${ref}`);
    }
    w.dispose();
    opt.dispose();
  });

  it("rejects bad arguments", () => {
    assert.throws(() => new DecayedAdam(0), /learning rate must be positive/);
    assert.throws(() => new DecayedAdam(1e-3, -1), /decay must be >= 0/);
  });
});

describe("ReduceLROnPlateau", () => {
  // the book's settings: factor 0.1, patience 1, cooldown 1, min_lr 1e-6
  it("follows Keras's rules on a synthetic loss sequence with the book's settings", () => {
    const s = new PlateauSchedule({ factor: 0.1, patience: 1, cooldown: 1, minLr: 1e-6 });
    const losses = [1.0, 0.9, 0.95, 0.96, 0.8, 0.85, 0.79, 0.7999];
    // e0, e1 improve; e2 plateau -> 1e-5 (cooldown 1); e3: cooldown ends this epoch, still no
    // improvement -> 1e-6; e4 improves; e5 plateau but already at min_lr; e6 improves; e7 improves
    // by less than min_delta -> plateau, at min_lr.
    const expected = [1e-4, 1e-4, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6];
    let lr = 1e-4;
    losses.forEach((loss, e) => {
      lr = s.step(loss, lr);
      assert.ok(
        Math.abs(lr - expected[e]) < 1e-15,
        `epoch ${e}: lr ${lr}, expected ${expected[e]}`,
      );
    });
  });

  it("watches accuracies in max mode and honours patience > 1", () => {
    const s = new PlateauSchedule({ monitor: "val_acc", factor: 0.5, patience: 2 });
    const lrs: number[] = [];
    let lr = 1;
    for (const acc of [0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7]) lrs.push((lr = s.step(acc, lr)));
    assert.deepStrictEqual(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
  });

  it("changes the optimizer's rate during fit and records it", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const opt = new DecayedAdam(1e-2, 0);
    const model = tinyModel(opt);
    // nothing counts as improvement after epoch 1
    const cb = new ReduceLROnPlateau({ monitor: "loss", factor: 0.5, patience: 1, minDelta: 100 });
    const [x, y] = [xs(), ys()];
    await model.fit(x, y, { epochs: 4, batchSize: 4, verbose: 0, callbacks: [cb] });
    assert.deepStrictEqual(cb.history, [1e-2, 1e-2, 5e-3, 2.5e-3]);
    assert.deepStrictEqual(cb.reductions, [1, 2, 3]);
    assert.strictEqual(opt.baseLearningRate, 1.25e-3);
    tf.dispose([x, y]);
    model.dispose();
  });

  it("names a missing metric", async () => {
    const model = tinyModel(new DecayedAdam(1e-2));
    const [x, y] = [xs(), ys()];
    await assert.rejects(
      model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new ReduceLROnPlateau()] }),
      /metric "val_loss" is not in the epoch logs \(loss\)/,
    );
    tf.dispose([x, y]);
  });
});

describe("NaNGuard", () => {
  it("stops at the first non-finite loss with a clear error and leaks no tensors", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const model = tinyModel(new DecayedAdam(1e-2));
    const x = tf.tensor2d([
      [0.1, 0.2, 0.3],
      [NaN, 0, 0],
      [0.1, 0.1, 0.1],
      [0.2, 0.2, 0.2],
    ]);
    const y = ys();
    const clean = xs();
    await model.fit(clean, y, { epochs: 1, verbose: 0 }); // creates the optimizer's slots first
    const before = tf.memory().numTensors;
    await assert.rejects(
      model.fit(x, y, {
        epochs: 3,
        batchSize: 1,
        shuffle: false,
        verbose: 0,
        callbacks: [new NaNGuard()],
      }),
      /loss became NaN at epoch 1, batch 2/,
    );
    assert.strictEqual(tf.memory().numTensors, before);
    tf.dispose([x, y, clean]);
  });
});

describe("checkpoints", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("a model saved with fileHandler loads with tf.loadLayersModel, same predictions", async () => {
    const dir = tmp();
    const model = tinyModel(new DecayedAdam(1e-2));
    await model.save(fileHandler(dir));
    const loaded = await tf.loadLayersModel(fileHandler(dir));
    const [a, b] = tf.tidy(() => [
      (model.predict(xs()) as tf.Tensor).dataSync(),
      (loaded.predict(xs()) as tf.Tensor).dataSync(),
    ]);
    assert.deepStrictEqual(Array.from(a), Array.from(b));
  });

  it("resuming from a checkpoint continues exactly like the uninterrupted run", async () => {
    const dir = path.join(tmp(), "run");
    const [x, y] = [xs(), ys()];
    const straight = tinyModel(new DecayedAdam(1e-2, 1e-2));
    const h1 = await straight.fit(x, y, { epochs: 4, batchSize: 2, shuffle: false, verbose: 0 });

    const first = tinyModel(new DecayedAdam(1e-2, 1e-2));
    const h2 = await first.fit(x, y, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    await saveCheckpoint(dir, first, {
      runId: "run-a",
      epoch: 2,
      history: { loss: h2.history.loss as number[] },
      seed: 1,
    });

    const ckpt = await loadCheckpoint(dir);
    const opt = new DecayedAdam(1e-2, 1e-2);
    ckpt.model.compile({ optimizer: opt, loss: "meanSquaredError" });
    await ckpt.restoreOptimizer(opt);
    assert.strictEqual(opt.iterations, 4);
    const h3 = await ckpt.model.fit(x, y, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    const resumed = [...ckpt.meta.history.loss, ...(h3.history.loss as number[])];
    (h1.history.loss as number[]).forEach((l, i) =>
      assert.ok(Math.abs(l - resumed[i]) < 1e-6, `epoch ${i}: ${l} vs ${resumed[i]}`),
    );
    tf.dispose([x, y]);
  });

  it("never silently overwrites another run's checkpoint; names a damaged file", async () => {
    const dir = path.join(tmp(), "ckpt");
    const model = tinyModel(new DecayedAdam(1e-2));
    await saveCheckpoint(dir, model, { runId: "first", epoch: 1, history: {}, seed: 1 });
    // same run: fine
    await saveCheckpoint(dir, model, { runId: "first", epoch: 2, history: {}, seed: 1 });
    await assert.rejects(
      saveCheckpoint(dir, model, { runId: "second", epoch: 1, history: {}, seed: 2 }),
      /holds a checkpoint of another run \(first, epoch 2/,
    );
    assert.strictEqual(readMeta(dir)!.runId, "first");
    await saveCheckpoint(
      dir,
      model,
      { runId: "second", epoch: 1, history: {}, seed: 2 },
      { overwrite: true },
    );
    assert.strictEqual(readMeta(dir)!.runId, "second");
    fs.writeFileSync(path.join(dir, "weights.bin"), Buffer.alloc(3));
    await assert.rejects(
      loadCheckpoint(dir),
      /weights\.bin: holds 3 bytes, model\.json describes \d+/,
    );
    await assert.rejects(
      loadCheckpoint(path.join(dir, "nowhere")),
      /no checkpoint here \(missing checkpoint\.json\)/,
    );
  });
});
