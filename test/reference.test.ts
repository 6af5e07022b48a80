import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  CHAPTER_CLAIMS,
  DecayedAdam,
  FASHION_BOOK,
  KERAS2_DEFAULTS,
  KERAS2_HARD_SIGMOID_SLOPE,
  MNIST_BOOK,
  REFERENCE_DIR,
  SUNSPOTS_BOOK,
  SUNSPOT_ENGINES,
  epochComparison,
  fashionCnn,
  fidelityTable,
  gateFunction,
  historySeries,
  initBackend,
  metricOf,
  mnistCnn,
  pairedRuns,
  quantile,
  readRecord,
  referenceRecord,
  referenceSettings,
  runSunspotsExperiment,
  summarize,
  sunspotDistributions,
  sunspotRnn,
  sunspotRuns,
  writeRecord,
} from "advanced-neural-models";
import { parseExperimentArgs } from "advanced-neural-models/dist/cli/experiment";
import { findTensorFlowPython } from "advanced-neural-models/dist/native/python-tf";
import { TEST_BACKEND, assertClose } from "./helpers";

const ROOT = path.resolve(__dirname, "..");

describe("Keras 2's defaults (KERAS2_DEFAULTS) are what the code uses", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("the chapter's Dense, Conv2D and recurrent kernels start Glorot-uniform, as Keras's", () => {
    for (const model of [
      mnistCnn(),
      fashionCnn(),
      sunspotRnn(),
      sunspotRnn({ implementation: "layers" }),
    ]) {
      for (const layer of model.layers) {
        const config = layer.getConfig() as {
          kernelInitializer?: { className: string; config: Record<string, unknown> };
        };
        if (config.kernelInitializer) {
          assert.deepStrictEqual(
            { className: config.kernelInitializer.className, ...config.kernelInitializer.config },
            {
              className: "VarianceScaling",
              scale: 1,
              mode: "fanAvg",
              distribution: "uniform",
              seed: null,
            },
            `${model.name}/${layer.name}`,
          );
        }
      }
      const dense = model.layers.find((l) => l.getClassName() === "Dense")!;
      const [kernel] = dense.getWeights();
      const [fanIn, fanOut] = kernel.shape;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const v = Array.from(kernel.dataSync());
      // Uniform(-limit, limit): bounded by the limit, variance
      // limit^2/3 (a normal draw of that variance exceeds the bound).
      assert.ok(
        v.every((x) => Math.abs(x) <= limit + 1e-7),
        `${model.name}: a kernel value beyond the Glorot-uniform limit ${limit}`,
      );
      if (v.length > 1000)
        assertClose(
          v.reduce((s, x) => s + x * x, 0) / v.length,
          (limit * limit) / 3,
          (0.1 * limit * limit) / 3,
          `${model.name} kernel variance`,
        );
      model.dispose();
    }
  });

  it("sunspot LSTM: forget-gate bias starts at 1, other gates' at 0, both implementations", () => {
    for (const implementation of ["fused", "layers"] as const) {
      const model = sunspotRnn({ implementation, units: 4 });
      const bias = Array.from(model.layers[0].getWeights()[2].dataSync());
      assert.deepStrictEqual(
        bias,
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        implementation,
      );
      model.dispose();
    }
    assert.ok(KERAS2_DEFAULTS.some((r) => r.setting.includes("forget") && r.pack === "1"));
  });

  it("gates use the hard sigmoid of slope 0.2, as Keras 2 and tfjs's own hardSigmoid", () => {
    const { f } = gateFunction("hardSigmoid");
    assertClose(f(1) - f(0), KERAS2_HARD_SIGMOID_SLOPE, 1e-12, "slope");
    assert.strictEqual(f(0), 0.5);
    assert.strictEqual(f(2.5), 1);
    assert.strictEqual(f(-2.5), 0);
    const x = [-3, -1, 0, 0.7, 2];
    const tfjs = tf.tidy(
      () =>
        (
          tf.layers.activation({ activation: "hardSigmoid" }).apply(tf.tensor1d(x)) as tf.Tensor
        ).arraySync() as number[],
    );
    x.forEach((v, i) => assertClose(tfjs[i], f(v), 1e-6, `tfjs hardSigmoid(${v})`));
  });

  /**
   * Keras 2's Adam with decay, in float64:
   * lr_t = lr/(1 + decay·t)·√(1−β₂ᵗ⁺¹)/(1−β₁ᵗ⁺¹), p -= lr_t·m/(√v + ε).
   */
  function keras2Adam(
    p0: number[],
    grads: number[][],
    lr: number,
    decay: number,
    epsilon: number,
  ): number[] {
    const p = [...p0],
      m = p0.map(() => 0),
      v = p0.map(() => 0);
    grads.forEach((g, t) => {
      const lrT = ((lr / (1 + decay * t)) * Math.sqrt(1 - 0.999 ** (t + 1))) / (1 - 0.9 ** (t + 1));
      for (let i = 0; i < p.length; i++) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        p[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + epsilon);
      }
    });
    return p;
  }

  it("DecayedAdam's updates are Keras 2's (decay and epsilon placement), float64 check", () => {
    const p0 = [0.5, -1.2, 3];
    const grads = [
      [1e-3, -2, 0.5],
      [2e-3, -1, 0.25],
      [-1e-3, 0.5, 0.1],
      [5e-4, 0.3, -0.2],
      [1e-4, 0.1, 0.05],
    ];
    // A large epsilon makes the placement matter: tfjs's own rule lands elsewhere.
    for (const epsilon of [1e-7, 0.05]) {
      const variable = tf.variable(tf.tensor1d(p0));
      const opt = new DecayedAdam(0.01, 0.1, 0.9, 0.999, epsilon);
      for (const g of grads) {
        const grad = tf.tensor1d(g);
        opt.applyGradients([{ name: variable.name, tensor: grad }]);
        grad.dispose();
      }
      const got = Array.from(variable.dataSync());
      const want = keras2Adam(p0, grads, 0.01, 0.1, epsilon);
      got.forEach((x, i) => assertClose(x, want[i], 2e-6, `epsilon ${epsilon}, parameter ${i}`));
      if (epsilon === 0.05) {
        const plain = new tf.AdamOptimizer(0.01, 0.9, 0.999, epsilon);
        const other = tf.variable(tf.tensor1d(p0));
        grads.forEach((g, t) => {
          (plain as unknown as { learningRate: number }).learningRate = 0.01 / (1 + 0.1 * t);
          const grad = tf.tensor1d(g);
          plain.applyGradients([{ name: other.name, tensor: grad }]);
          grad.dispose();
        });
        assert.ok(
          Math.abs(other.dataSync()[0] - want[0]) > 1e-4,
          "tfjs's own placement should differ visibly with epsilon 0.05",
        );
        other.dispose();
        plain.dispose();
      }
      assert.strictEqual(opt.getConfig().epsilon, epsilon);
      variable.dispose();
      opt.dispose();
    }
  });
});

describe("summaries of seeds", () => {
  it("quantiles interpolate between order statistics as numpy's default does", () => {
    assert.deepStrictEqual(summarize([4, 1, 3, 2]), {
      n: 4,
      median: 2.5,
      q1: 1.75,
      q3: 3.25,
      min: 1,
      max: 4,
    });
    assert.strictEqual(quantile([10], 0.3), 10);
    assert.strictEqual(quantile([0, 10, 20], 0.25), 5);
    assert.throws(() => summarize([1, NaN]), /finite/);
  });

  it("epochComparison puts the book's epochs, the best and the last side by side", () => {
    const rows = epochComparison(
      [0.9, 0.95, 0.97, 0.96],
      [0.8],
      { 1: 0.91, 3: 0.98, 200: 0.995 },
      "max",
    );
    assert.deepStrictEqual(
      rows.map((r) => [r.epoch, r.reference, r["this run"], r.book]),
      [
        ["1", 0.9, 0.8, 0.91],
        ["3", 0.97, "-", 0.98],
        ["200", "not reached", "-", 0.995],
        ["best (3)", 0.97, 0.8, "-"],
        ["last (4)", 0.96, 0.8, "-"],
      ],
    );
  });
});

describe("the experiment command's reference and seed options", () => {
  it("parses --seeds ranges and lists and refuses bad ones", () => {
    assert.deepStrictEqual(parseExperimentArgs(["sunspots", "--seeds", "3-5"]).seeds, [3, 4, 5]);
    assert.deepStrictEqual(parseExperimentArgs(["sunspots", "--seeds", "1,7"]).seeds, [1, 7]);
    assert.throws(
      () => parseExperimentArgs(["sunspots", "--seeds", "5-3"]),
      /--seeds needs a range/,
    );
    assert.throws(() => parseExperimentArgs(["sunspots", "--seeds", "2,2"]), /distinct/);
    assert.throws(
      () => parseExperimentArgs(["mnist", "--seeds", "1-2"]),
      /applies to sunspots only/,
    );
    assert.throws(
      () => parseExperimentArgs(["sunspots", "--seeds", "1-2", "--seed", "3"]),
      /exclude each other/,
    );
  });

  it("--reference takes the shipped record's settings and refuses options that set them", () => {
    assert.throws(
      () => parseExperimentArgs(["mnist", "--reference", "--epochs", "3"]),
      /--reference takes every setting from the shipped record; drop --epochs/,
    );
    const p = parseExperimentArgs(["mnist", "--reference"]);
    assert.ok(
      p.reference && p.run.out!.endsWith(path.join("experiments", "mnist-reference")),
      p.run.out,
    );
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "noref-"));
    assert.throws(() => referenceSettings("mnist", empty), /no shipped mnist run to repeat/);
    assert.throws(() => referenceSettings("sunspots", empty), /no shipped sunspot runs to repeat/);
  });
});

describe("shipped reference runs (reference/)", () => {
  const without = (o: Record<string, unknown>, ...keys: string[]) =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

  it("MNIST: the book's settings, >= 50 epochs on native TensorFlow, charts, no checkpoint", () => {
    const r = referenceRecord("mnist")!;
    assert.ok(r, "reference/mnist/results.json is missing");
    assert.deepStrictEqual(without(r.settings, "epochs"), without({ ...MNIST_BOOK }, "epochs"));
    assert.ok(
      r.metrics.epochs >= 50 && r.settings.epochs === r.metrics.epochs,
      `epochs ${r.metrics.epochs}`,
    );
    assert.strictEqual(historySeries(r, "val_acc").length, r.metrics.epochs);
    assert.match(r.backend, /^backend: tensorflow \(TensorFlow 2\.\d+\.\d+, (CPU|GPU)/);
    for (const e of [1, 2, 3])
      assert.strictEqual(r.metrics[`val_accuracy_epoch_${e}`], historySeries(r, "val_acc")[e - 1]);
    for (const chart of r.charts)
      assert.ok(fs.existsSync(path.join(REFERENCE_DIR, "mnist", `${chart}.svg`)), `${chart}.svg`);
    assert.ok(
      !fs.existsSync(path.join(REFERENCE_DIR, "mnist", "checkpoint")),
      "checkpoints are not shipped",
    );
  });

  it("Fashion-MNIST: the book's settings, >= 3 epochs, both validation protocols per epoch", () => {
    const r = referenceRecord("fashion")!;
    assert.ok(r, "reference/fashion/results.json is missing");
    // the augmentation ranges became settings after this run; it ran with the book's, then fixed
    const added = ["horizontalFlip", "rotationRange", "shearRange", "zoomRange"];
    assert.deepStrictEqual(
      without(r.settings, "epochs"),
      without({ ...FASHION_BOOK }, "epochs", ...added),
    );
    assert.ok(r.metrics.epochs >= 3);
    assert.strictEqual(historySeries(r, "val_acc_augmented").length, r.metrics.epochs);
    assert.strictEqual(r.history.lr.length, r.metrics.epochs);
    assert.match(r.backend, /^backend: tensorflow \(TensorFlow/);
    for (const k of ["test_accuracy_clean", "test_accuracy_augmented"])
      assert.ok(r.metrics[k] > 0.5 && r.metrics[k] <= 1, k);
    assert.ok(!fs.existsSync(path.join(REFERENCE_DIR, "fashion", "checkpoint")));
  });

  it("sunspots: >= 10 seeds on each of native TensorFlow, wasm, Keras 3, book settings", () => {
    const engines: Record<string, RegExp> = {
      tensorflow: /^backend: tensorflow \(TensorFlow/,
      wasm: /^backend: wasm/,
      keras: /^keras 3\.\d+\.\d+ \/ TensorFlow 2\.\d+/,
    };
    for (const [engine, backend] of Object.entries(engines)) {
      const runs = sunspotRuns(engine as (typeof SUNSPOT_ENGINES)[number]);
      assert.ok(runs.length >= 10, `${engine}: ${runs.length} seeds`);
      assert.strictEqual(new Set(runs.map((r) => r.seed)).size, runs.length);
      for (const r of runs) {
        assert.deepStrictEqual(
          without(r.settings, "seed"),
          without({ ...SUNSPOTS_BOOK }, "seed"),
          `${engine} seed ${r.seed}`,
        );
        assert.strictEqual(r.settings.seed, r.seed);
        assert.match(r.backend, backend);
        assert.strictEqual(r.history.val_loss.length, 100);
        assert.strictEqual(r.metrics.val_mse, r.history.val_loss[99]);
        if (engine !== "keras")
          assert.strictEqual(
            Object.values(r.initialWeights!).reduce((n, w) => n + w.values.length, 0),
            101,
            "initial weights of all 101 parameters",
          );
      }
    }
  });

  it("Keras from the pack's initial weights follows its curve (every default matched)", () => {
    const pairs = pairedRuns();
    assert.ok(pairs.length >= 1, "no paired runs");
    for (const p of pairs) {
      assert.strictEqual(p.pack.length, 100);
      assert.ok(
        p.maxRelativeDifference < 1e-3,
        `seed ${p.seed}: curves differ by ${p.maxRelativeDifference}`,
      );
    }
  });

  it("the fidelity table: the shipped values, the reader's newest run beside them", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "nores-"));
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const rows = fidelityTable(empty);
    const row = (claim: string) => rows.find((r) => r.claim === claim)!;
    const mnist = referenceRecord("mnist")!,
      fashion = referenceRecord("fashion")!;
    assert.strictEqual(
      row("MNIST validation accuracy after epoch 1").reference,
      mnist.metrics.val_accuracy_epoch_1.toFixed(4),
    );
    assert.strictEqual(
      row("MNIST best validation accuracy (the book: after 200 epochs)").reference,
      Math.max(...historySeries(mnist, "val_acc")).toFixed(4),
    );
    assert.match(
      row("MNIST validation accuracy at the last epoch (the book: 200)").referenceRun,
      new RegExp(`^${mnist.metrics.epochs} epoch\\(s\\); tensorflow`),
    );
    assert.strictEqual(
      row(
        "Fashion-MNIST validation accuracy after epoch 3, book's protocol (augmented test images)",
      ).reference,
      fashion.metrics.val_accuracy_augmented_epoch_3.toFixed(4),
    );
    const native = sunspotDistributions().find((d) => d.engine === "tensorflow")!;
    assert.strictEqual(
      row("sunspot validation MSE after 100 epochs").reference,
      native.summary.median.toFixed(4),
    );
    assert.match(
      row("sunspot validation MSE after 100 epochs").referenceRun,
      new RegExp(`^median of ${native.summary.n} seeds`),
    );
    for (const r of rows.filter((x) =>
      CHAPTER_CLAIMS.find((c) => c.claim === x.claim && "experiment" in c.ours),
    )) {
      assert.notStrictEqual(r.reference, "not shipped", r.claim);
      assert.strictEqual(r.yours, "not run yet", r.claim);
      assert.strictEqual(r.yoursRun, "", r.claim);
    }
    await writeRecord(path.join(empty, "experiments", "mnist"), {
      ...mnist,
      date: "2027-01-01T00:00:00Z",
      metrics: { ...mnist.metrics, epochs: 2 },
      history: { val_acc: [0.5, 0.6] },
    });
    const best = fidelityTable(empty).find(
      (r) => r.claim === "MNIST best validation accuracy (the book: after 200 epochs)",
    )!;
    assert.strictEqual(best.yours, "0.6000");
    assert.match(best.yoursRun, /^cli, cli, 2 epoch\(s\)/);
    assert.strictEqual(
      metricOf(readRecord(path.join(empty, "experiments", "mnist"))!, "last(val_acc)"),
      0.6,
    );
  });
});

describe("the Keras comparison script (bench/keras_sunspots.py)", function () {
  const python = findTensorFlowPython();

  it("Keras 3 trains the book's protocol from the pack's weights, on its curve", async function () {
    // needs a Python with TensorFlow (npm run native -- --install-tensorflow cpu)
    if (!python) this.skip();
    this.timeout(300000);
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paired-"));
    const settings = { ...SUNSPOTS_BOOK, epochs: 3, seed: 4 };
    const { record, model } = await runSunspotsExperiment(settings, {
      out: path.join(dir, "pack", "seed-4"),
      progress: false,
      charts: false,
    });
    model.dispose();
    const run = spawnSync(
      python!,
      [
        path.join(ROOT, "bench", "keras_sunspots.py"),
        "--seeds",
        "4",
        "--epochs",
        "3",
        "--out",
        path.join(dir, "keras"),
        "--weights-from",
        path.join(dir, "pack", "seed-{seed}", "results.json"),
      ],
      { encoding: "utf8" },
    );
    assert.strictEqual(run.status, 0, run.stderr);
    const keras = readRecord(path.join(dir, "keras", "seed-4"))!;
    assert.strictEqual(keras.engine, "keras");
    record.history.val_loss.forEach((v, e) =>
      assertClose(
        keras.history.val_loss[e] / v,
        1,
        1e-4,
        `epoch ${e + 1} validation MSE, Keras / pack`,
      ),
    );
  });
});
