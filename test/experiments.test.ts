import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  ImageDataGenerator,
  SUNSPOTS_BOOK,
  accuracy,
  bookAugmentation,
  fashionSettings,
  initBackend,
  loadMnist,
  mnistSettings,
  notebookRun,
  readRecord,
  recalibrateBatchNorm,
  runFashionExperiment,
  runMnistExperiment,
  runSunspotsExperiment,
  toTensors,
  writeRecord,
} from "advanced-neural-models";
import { TEST_BACKEND, assertClose, joinedRegExp } from "./helpers";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "exp-"));

/** The share of `x`'s images whose largest model output is the true class, counted in the test. */
function argMaxAccuracy(model: tf.LayersModel, x: tf.Tensor, truth: ArrayLike<number>): number {
  const outputs = tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
  const hits = outputs.filter((row, i) => row.indexOf(Math.max(...row)) === truth[i]).length;
  return hits / outputs.length;
}
const cli = path.join(__dirname, "..", "dist", "cli", "experiment.js");

describe("recalibrateBatchNorm", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  // the batch mean and variance are checked in float64
  it("calibrated on one batch, inference reproduces that batch's training-mode outputs", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: "same" }),
        tf.layers.batchNormalization(),
        tf.layers.leakyReLU({ alpha: 0.1 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4 }),
        tf.layers.batchNormalization({ momentum: 0.9 }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    // move gamma/beta away from 1/0 so that the check covers them
    for (const l of model.layers.filter((x) => x.getClassName() === "BatchNormalization")) {
      const [g, b, m, v] = l.getWeights();
      l.setWeights([
        tf.add(g, tf.randomUniform(g.shape, -0.5, 0.5)),
        tf.randomUniform(b.shape, -0.5, 0.5),
        m,
        v,
      ]);
    }
    const x = tf.randomNormal([37, 5, 5, 2], 1, 2);
    const trainingMode = tf.tidy(
      () =>
        model.layers
          .reduce(
            (h: tf.Tensor, l) =>
              l.apply(h, { training: l.getClassName() === "BatchNormalization" }) as tf.Tensor,
            x,
          )
          .arraySync() as number[][],
    );
    const before = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    // in chunks of 10 the first layer's statistics are still
    // those of all 37 inputs (checked below in float64) ...
    const stats = recalibrateBatchNorm(model, x, 10);
    // ... but later layers see inputs normalised with each chunk's
    // statistics, as in training; one chunk makes inference exact
    recalibrateBatchNorm(model, x, 64);
    const after = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    const diff = (a: number[][]) =>
      Math.max(...a.flatMap((r, i) => r.map((v, j) => Math.abs(v - trainingMode[i][j]))));
    assert.ok(
      diff(after) < 1e-4,
      `recalibrated inference differs from training mode by ${diff(after)}`,
    );
    assert.ok(diff(before) > 0.1, "the uncalibrated model should differ");
    // first BN: float64 mean and biased variance over batch and space of the conv output
    const conv = (model.layers[0].apply(x) as tf.Tensor).arraySync() as number[][][][];
    for (let c = 0; c < 3; c++) {
      const v = conv.flat(2).map((px) => px[c]);
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length;
      assert.ok(
        Math.abs(stats[0].mean[c] - mean) < 1e-4 &&
          Math.abs(stats[0].variance[c] / variance - 1) < 1e-4,
        `channel ${c}`,
      );
    }
    assert.throws(
      () =>
        recalibrateBatchNorm(
          tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] }),
          x,
        ),
      /no BatchNormalization layer/,
    );
    tf.dispose([x]);
  });
});

describe("experiment records", () => {
  it("round-trips results.json, writes charts as SVG and PNG; names a damaged file", async () => {
    const dir = tmp();
    const record = {
      experiment: "t",
      mode: "cli",
      settings: { epochs: 1 },
      seed: 1,
      backend: "b",
      date: "2026-01-02T03:04:05.000Z",
      versions: { node: "n", tfjs: "t", package: "p" },
      split: "s",
      metrics: { a: 0.5 },
      book: {},
      history: { loss: [1] },
      timings: { totalSeconds: 1, epochSeconds: [1], samplesPerSecond: 1 },
    };
    const files = await writeRecord(dir, record, {
      chart: {
        $schema: "https://vega.github.io/schema/vega-lite/v5.json",
        data: { values: [{ x: 1, y: 2 }] },
        mark: "point",
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
        },
      },
    });
    assert.deepStrictEqual(files.map((f) => path.basename(f)).sort(), [
      "chart.png",
      "chart.svg",
      "results.json",
    ]);
    assert.deepStrictEqual(readRecord(dir), { ...record, charts: ["chart"] });
    assert.ok(fs.readFileSync(path.join(dir, "chart.png")).subarray(1, 4).toString() === "PNG");
    assert.strictEqual(readRecord(path.join(dir, "none")), undefined);
    fs.writeFileSync(path.join(dir, "results.json"), "{ nope");
    assert.throws(() => readRecord(dir), /results\.json: not valid JSON/);
    fs.writeFileSync(path.join(dir, "results.json"), "{}");
    assert.throws(
      () => readRecord(dir),
      /results\.json: not an experiment record \(missing experiment/,
    );
    // valid JSON of another shape is refused field by field, naming the file
    fs.writeFileSync(path.join(dir, "results.json"), JSON.stringify({ ...record, date: 20260102 }));
    assert.throws(
      () => readRecord(dir),
      /results\.json: not an experiment record \(date is not an ISO 8601 date string\)$/,
    );
  });

  it("notebooks write to results/notebook-runs/<name> except in smoke mode", () => {
    assert.strictEqual(notebookRun("mnist", { name: "smoke" }, "/r").out, undefined);
    assert.strictEqual(
      notebookRun("mnist", { name: "default" }, "/r").out,
      path.join("/r", "notebook-runs", "mnist"),
    );
  });
});

describe("experiments: checkpoints, resume, refusal", function () {
  this.timeout(600000);
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("resumes a checkpointed sunspot run where it stopped; won't start over another", async () => {
    const out = tmp();
    const first = await runSunspotsExperiment(
      { ...SUNSPOTS_BOOK, epochs: 1 },
      { out, checkpoints: true, progress: false },
    );
    assert.ok(fs.existsSync(path.join(out, "checkpoint", "checkpoint.json")));
    await assert.rejects(
      runSunspotsExperiment(
        { ...SUNSPOTS_BOOK, epochs: 2 },
        { out, checkpoints: true, progress: false },
      ),
      /already holds a checkpoint of run sunspots-lstm-book-.* \(epoch 1\); resume it/,
    );
    await assert.rejects(
      runSunspotsExperiment(
        { ...SUNSPOTS_BOOK, cell: "gru", epochs: 2 },
        { out, resume: true, progress: false },
      ),
      joinedRegExp(
        /made with other settings \(experiment: "sunspots-lstm-book", cell: "lstm"\); /,
        /resume with the same ones/,
      ),
    );
    await assert.rejects(
      runSunspotsExperiment(
        { ...SUNSPOTS_BOOK, epochs: 1 },
        { out, resume: true, progress: false },
      ),
      /already has 1 epochs/,
    );
    const resumed = await runSunspotsExperiment(
      { ...SUNSPOTS_BOOK, epochs: 3 },
      { out, resume: true, progress: false },
    );
    const h = resumed.record.history.val_loss;
    assert.strictEqual(h.length, 3);
    assert.strictEqual(h[0], first.record.history.val_loss[0]);
    assert.strictEqual(readRecord(out)!.metrics.epochs, 3);
    assert.ok(h[2] < h[0], `validation MSE ${h.join(", ")}`);
  });

  it("mnist: results.json agrees with the predictions, charts are written", async () => {
    const out = tmp();
    const s = { ...mnistSettings("smoke"), trainSamples: 600, testSamples: 300, batchSize: 32 };
    const outcome = await runMnistExperiment(s, { out, progress: false });
    const truth = loadMnist("test").labels.subarray(0, 300);
    const saved = readRecord(out)!;
    assert.strictEqual(saved.metrics.test_accuracy, accuracy(truth, outcome.predicted));
    // the last epoch's validation accuracy (tfjs's metric during fit) is the share of the
    // same 300 test images whose largest output is the true digit, counted here from the
    // trained model's outputs (float32 sums in tfjs: within 1e-6)
    const reference = argMaxAccuracy(outcome.model, outcome.xTest, truth);
    assertClose(saved.metrics.val_accuracy_epoch_1, reference, 1e-6, "val_accuracy_epoch_1");
    assert.ok(reference > 0.2, `a 600-image epoch should beat chance (0.1): ${reference}`);
    assert.strictEqual(saved.book.val_accuracy_epoch_200, 0.995);
    for (const f of ["history.svg", "history.png", "confusion.svg", "confusion.png"])
      assert.ok(fs.existsSync(path.join(out, f)), f);
    tf.dispose([outcome.xTest, outcome.yTest]);
  });

  it("fashion: both protocols; recalibrated BatchNorm beats chance in a few steps", async () => {
    const s = {
      ...fashionSettings("smoke"),
      batchesPerEpoch: 4,
      batchSize: 64,
      testSamples: 300,
      calibrationSamples: 256,
    };
    const outcome = await runFashionExperiment(s, { progress: false });
    const m = outcome.record.metrics;
    const test = outcome.data.test;
    const truth = test.labels.subarray(0, 300);
    const px = test.rows * test.cols;
    // clean: each image scaled to [0, 1], centred and divided by its own standard
    // deviation (+1e-7), in float64 here, through the recalibrated model
    const clean = new Float32Array(300 * px);
    for (let i = 0; i < 300; i++) {
      const image = Array.from(test.images.subarray(i * px, (i + 1) * px), (v) => v / 255);
      const mean = image.reduce((a, v) => a + v, 0) / px;
      const sd = Math.sqrt(image.reduce((a, v) => a + (v - mean) ** 2, 0) / px);
      image.forEach((v, j) => (clean[i * px + j] = (v - mean) / (sd + 1e-7)));
    }
    const xClean = tf.tensor4d(clean, [300, test.rows, test.cols, 1]);
    assert.strictEqual(m.test_accuracy_clean, argMaxAccuracy(outcome.model, xClean, truth));
    assert.ok(m.test_accuracy_clean > 0.3, `recalibrated accuracy ${m.test_accuracy_clean}`);
    // augmented: the same images through the book's training augmentation drawn with seed 7
    // (a draw of its own, not the training stream's), then the recalibrated model
    const xAugmented = tf.tidy(() =>
      new ImageDataGenerator(bookAugmentation(7)).randomTransform(
        tf.mul(toTensors(test, 0, 300)[0], 255) as tf.Tensor4D,
      ),
    );
    assert.strictEqual(m.test_accuracy_augmented, argMaxAccuracy(outcome.model, xAugmented, truth));
    // moving statistics: measured before the recalibration, so it is the last epoch's
    // validation accuracy on the clean images (tfjs's metric during fit, float32 sums)
    assertClose(m.test_accuracy_moving_stats, m.val_accuracy_epoch_1, 1e-6, "moving statistics");
    tf.dispose([xClean, xAugmented]);
    assert.deepStrictEqual(outcome.learningRates, [1e-4]);
    assert.strictEqual(outcome.perClass.length, 10);
  });
});

describe("npm run experiment (CLI)", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

  it("bad arguments print the usage and exit 2; --help exits 0", () => {
    const cases: [string[], RegExp][] = [
      [["nope"], /the experiment must be one of mnist, fashion, sunspots, got "nope"/],
      [["mnist", "--epochs", "0"], /--epochs needs a positive whole number .*, got "0"/],
      [["mnist", "--stacked"], /--stacked applies to sunspots only/],
      [
        ["fashion", "--backend", "gpu"],
        /--backend must be one of tensorflow, webgpu, wasm, cpu, got "gpu"/,
      ],
      [
        ["sunspots", "--train-samples", "5"],
        /--train-samples does not apply to sunspots \(the book's split is fixed\)/,
      ],
      [["mnist", "--resume", "--force"], /--resume and --force exclude each other/],
      [[], /the experiment must be one of mnist, fashion, sunspots, got nothing/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      // the message is the first line, alone, then the usage
      assert.match(
        r.stderr,
        joinedRegExp(/^experiment: /, message, /\n\nUsage: npm run experiment/),
        args.join(" "),
      );
    }
    const help = run("--help");
    assert.strictEqual(help.status, 0);
    assert.match(help.stdout, /Usage: npm run experiment -- <mnist\|fashion\|sunspots>/);
  });
});
