import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  FusedRecurrent,
  fileHandler,
  fusedRecurrent,
  initBackend,
  sunspotRnn,
  train,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("FusedRecurrent (one-op LSTM/GRU)", function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  for (const cell of ["lstm", "gru"] as const) {
    for (const gate of ["hardSigmoid", "sigmoid"] as const) {
      for (const returnSequences of [false, true]) {
        // outputs and gradients (weights and inputs) to 1e-5
        it(`${cell}, ${gate}, returnSequences ${returnSequences}: equals tf.layers.${cell}`, () => {
          const ref = (cell === "lstm" ? tf.layers.lstm : tf.layers.gru)({
            units: 5,
            returnSequences,
            recurrentActivation: gate,
            biasInitializer: "randomNormal",
          });
          const fused = fusedRecurrent({
            cell,
            units: 5,
            returnSequences,
            recurrentActivation: gate,
          });
          const x = tf.randomNormal([3, 7, 2], 0, 1, "float32", 5);
          ref.apply(x);
          fused.apply(x);
          fused.setWeights(ref.getWeights());
          assert.ok(
            maxDiff(
              (ref.apply(x) as tf.Tensor).dataSync(),
              (fused.apply(x) as tf.Tensor).dataSync(),
            ) < 1e-5,
          );
          const weighting = tf.sin(
            tf.range(0, returnSequences ? 105 : 15).reshape(returnSequences ? [3, 7, 5] : [3, 5]),
          );
          const loss = (layer: tf.layers.Layer) => () =>
            tf.add(
              tf.sum(tf.mul(layer.apply(x) as tf.Tensor, weighting)),
              tf.sum(tf.square(layer.apply(x) as tf.Tensor)),
            ) as tf.Scalar;
          for (const [a, b] of [[ref, fused]] as const) {
            const ga = tf.variableGrads(
              loss(a),
              a.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
            );
            const gb = tf.variableGrads(
              loss(b),
              b.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
            );
            a.trainableWeights.forEach((w, k) => {
              const da = ga.grads[(w as unknown as { val: tf.Variable }).val.name].dataSync(),
                db =
                  gb.grads[
                    (b.trainableWeights[k] as unknown as { val: tf.Variable }).val.name
                  ].dataSync();
              assert.ok(
                maxDiff(da, db) < 1e-5 * Math.max(1, ...Array.from(da, Math.abs)),
                `${w.name}: ${maxDiff(da, db)}`,
              );
            });
          }
          const gx = (layer: tf.layers.Layer) =>
            tf
              .grad((xx: tf.Tensor) => tf.sum(tf.square(layer.apply(xx) as tf.Tensor)))(x)
              .dataSync();
          assert.ok(maxDiff(gx(ref), gx(fused)) < 1e-5);
        });
      }
    }
  }

  it("stateful: carries h and c over batches like the tfjs layer; resetStates clears them", () => {
    const ref = tf.sequential({
      layers: [tf.layers.lstm({ units: 3, stateful: true, batchInputShape: [2, 4, 1] })],
    });
    const fused = tf.sequential({
      layers: [
        fusedRecurrent({ cell: "lstm", units: 3, stateful: true, batchInputShape: [2, 4, 1] }),
      ],
    });
    fused.setWeights(ref.getWeights());
    const xs = [1, 2, 3].map((s) => tf.randomNormal([2, 4, 1], 0, 1, "float32", s));
    for (const x of xs)
      assert.ok(
        maxDiff(
          (ref.predict(x) as tf.Tensor).dataSync(),
          (fused.predict(x) as tf.Tensor).dataSync(),
        ) < 1e-6,
      );
    const carried = (fused.layers[0] as FusedRecurrent).states!;
    assert.strictEqual(carried.length, 2);
    fused.resetStates();
    ref.resetStates();
    assert.strictEqual((fused.layers[0] as FusedRecurrent).states, null);
    assert.ok(
      maxDiff(
        (ref.predict(xs[0]) as tf.Tensor).dataSync(),
        (fused.predict(xs[0]) as tf.Tensor).dataSync(),
      ) < 1e-6,
    );
  });

  it("saves, loads with fileHandler (registered class), trains with flat tensors", async () => {
    const model = sunspotRnn({ cell: "gru", stacked: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fused-"));
    await model.save(fileHandler(dir));
    const loaded = await tf.loadLayersModel(fileHandler(dir));
    assert.deepStrictEqual(
      loaded.layers.map((l) => l.getClassName()),
      ["FusedRecurrent", "FusedRecurrent", "Dense", "Activation"],
    );
    const x = tf.randomUniform([20, 15, 1], -1, 1, "float32", 8);
    assert.ok(
      maxDiff(
        (model.predict(x) as tf.Tensor).dataSync(),
        (loaded.predict(x) as tf.Tensor).dataSync(),
      ) < 1e-6,
    );
    loaded.compile({ optimizer: tf.train.adam(1e-2), loss: "meanSquaredError" });
    const y = tf.randomUniform([100, 1], -1, 1, "float32", 9),
      xs = tf.randomUniform([100, 15, 1], -1, 1, "float32", 10);
    const counts: number[] = [];
    const probe = new (class extends tf.Callback {
      override async onEpochEnd(): Promise<void> {
        counts.push(tf.memory().numTensors);
      }
    })();
    const r = await train(loaded, xs, y, {
      epochs: 4,
      batchSize: 20,
      shuffle: false,
      progress: false,
      callbacks: [probe],
    });
    assert.ok(
      counts.slice(1).every((c) => c === counts[1]),
      `tensors per epoch: ${counts.join(", ")}`,
    );
    assert.ok(r.history.loss[3] < r.history.loss[0], `loss ${r.history.loss.join(", ")}`);
  });
});
