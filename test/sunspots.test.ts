import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  DecayedAdam,
  MinMaxScaler,
  releaseKeptStates,
  SUNSPOTS_BOOK,
  SUNSPOTS_SHA256,
  continuousOrder,
  initBackend,
  loadSunspots,
  makeWindows,
  parseSunspotsCsv,
  runSunspotsExperiment,
  statefulStarts,
  sunspotRnn,
  train,
  windowTensors,
} from "advanced-neural-models";
import { TEST_BACKEND, assertClose } from "./helpers";

describe("sunspots data", () => {
  it("loads R's datasets::sunspots: 2,820 months from 1749-01, reference values, checksum", () => {
    const s = loadSunspots();
    assert.strictEqual(s.values.length, 2820);
    assert.strictEqual(s.months[0], "1749-01");
    assert.strictEqual(s.months[2819], "1983-12");
    assert.deepStrictEqual(Array.from(s.values.subarray(0, 5)), [58, 62.6, 70, 55.7, 85]);
    assert.strictEqual(Math.max(...s.values), 253.8);
    assert.strictEqual((s.values.reduce((a, b) => a + b, 0) / 2820).toFixed(2), "51.27");
    assert.strictEqual(s.sha256, SUNSPOTS_SHA256);
  });

  it("names the file and line of a malformed, gappy or duplicated CSV", () => {
    const bad: [string, RegExp][] = [
      ["Month,Value\n1749-01,1\n", /x\.csv:1: expected the header "Month,Sunspots"/],
      ["Month,Sunspots\n1749-01,1\n1749-02,abc\n", /x\.csv:3: "abc" is not a non-negative number/],
      [
        "Month,Sunspots\n1749-01,1\n1749-03,2\n",
        /x\.csv:3: 1749-03 follows 1749-01; expected 1749-02/,
      ],
      ["Month,Sunspots\n1749-01,1\n1749-01,2\n", /x\.csv:3: 1749-01 follows 1749-01/],
      ["Month,Sunspots\n1749-01,\n", /x\.csv:2: "" is not a non-negative number/],
      ["Month,Sunspots\n1749/01,3\n", /x\.csv:2: expected "YYYY-MM,value"/],
    ];
    for (const [text, pattern] of bad)
      assert.throws(() => parseSunspotsCsv(text, "x.csv"), pattern);
  });

  it("refuses a packaged-file look-alike whose checksum differs, and a missing file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sun-"));
    const file = path.join(dir, "sunspots.csv");
    fs.writeFileSync(file, "Month,Sunspots\n1749-01,58\n1749-02,62.6\n");
    assert.strictEqual(loadSunspots(file).values.length, 2);
    assert.throws(
      () => loadSunspots(file, { verify: true }),
      /sha256 .* differs from R's datasets::sunspots/,
    );
    assert.throws(
      () => loadSunspots(path.join(dir, "none.csv")),
      /none\.csv: sunspot file not found/,
    );
  });
});

describe("windows, scaling and stateful batching", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });
  it("makes the book's 2,805 windows of 15 with the next month as target", () => {
    const s = loadSunspots();
    const w = makeWindows(s.values, 15);
    assert.strictEqual(w.count, 2805);
    assert.deepStrictEqual(
      Array.from(w.x.subarray(15, 30)),
      Array.from(Float32Array.from(s.values.subarray(1, 16))),
    );
    assert.strictEqual(w.y[1], Math.fround(s.values[16]));
    const [x, y] = windowTensors(w, 2300, 2800);
    assert.deepStrictEqual(
      [x.shape, y.shape],
      [
        [500, 15, 1],
        [500, 1],
      ],
    );
    tf.dispose([x, y]);
    assert.throws(() => makeWindows(s.values, 0), /window length 0/);
  });

  it("MinMaxScaler maps min/max to the range and inverts exactly", () => {
    const v = [3, -1, 7, 5];
    const s = new MinMaxScaler([-1, 1]).fit(v);
    assert.deepStrictEqual(Array.from(s.transform(v)), [0, -1, 1, 0.5]);
    Array.from(s.inverse(s.transform(v))).forEach((x, i) => assert.ok(Math.abs(x - v[i]) < 1e-12));
    assert.throws(() => new MinMaxScaler().transform([1]), /call fit\(\) first/);
  });

  it("the book's batches skip batchSize − length months; continuousOrder's slots do not", () => {
    const starts = statefulStarts(20, 4);
    for (let k = 0; k < 3; k++)
      for (let i = 0; i < 20; i++) assert.strictEqual(starts[k + 1][i] - (starts[k][i] + 15), 5);
    const order = continuousOrder(2300, 15, 20);
    assert.strictEqual(order.length % 20, 0);
    const batches = order.length / 20;
    for (let k = 0; k + 1 < batches; k++)
      for (let i = 0; i < 20; i++)
        assert.strictEqual(order[(k + 1) * 20 + i], order[k * 20 + i] + 15);
    assert.ok(Math.max(...order) < 2300);
    assert.strictEqual(new Set(order).size, order.length);
  });
});

describe("stateful sunspot training", function () {
  this.timeout(300000);
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  // ReleaseKeptStates frees the states tfjs's LSTM keeps
  it("train() keeps numTensors flat over epochs of a never-reset stateful tfjs LSTM", async () => {
    const model = sunspotRnn({ implementation: "layers" });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: "meanSquaredError" });
    const x = tf.randomUniform([200, 15, 1], -1, 1),
      y = tf.randomUniform([200, 1], -1, 1);
    const counts: number[] = [];
    const probe = new (class extends tf.Callback {
      override async onEpochEnd(): Promise<void> {
        counts.push(tf.memory().numTensors);
      }
    })();
    await train(model, x, y, {
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
    // without it, tfjs keeps 2 old states per batch
    const before = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 1, batchSize: 20, shuffle: false, verbose: 0 });
    assert.ok(
      tf.memory().numTensors - before >= 20,
      `expected plain fit to keep old states: ${tf.memory().numTensors - before}`,
    );
    releaseKeptStates(model);
    model.resetStates();
    tf.dispose([x, y]);
  });

  // the validation MSE of each epoch is replayed from the recorded initial weights
  it("a short book-protocol run lowers the validation MSE and leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const outcome = await runSunspotsExperiment(
      { ...SUNSPOTS_BOOK, epochs: 4 },
      { progress: false },
    );
    const v = outcome.record.history.val_loss;
    assert.strictEqual(v.length, 4);
    assert.ok(v[3] < v[0], `validation MSE ${v.join(", ")}`);
    assert.strictEqual(outcome.truth.length, 500);
    assert.strictEqual(outcome.record.metrics.val_mse, v[3]);
    const rmse = Math.sqrt(
      outcome.truth.reduce((s, t, i) => s + (t - outcome.predicted[i]) ** 2, 0) / 500,
    );
    assert.ok(Math.abs(rmse - outcome.record.metrics.test_rmse_sunspots) < 1e-9);
    const weights = outcome.model.countParams();
    assert.strictEqual(weights, 101);
    // what the trained model owns: its weights, its
    // optimizer's slots and the LSTM's carried state (h, c)
    const carried = (outcome.model.layers[0] as unknown as { states: tf.Tensor[] }).states;
    assert.strictEqual(carried.length, 2);
    outcome.model.optimizer.dispose();
    outcome.model.dispose();
    tf.dispose(carried);
    assert.strictEqual(tf.memory().numTensors, before);
    // the book's protocol replayed from the recorded initial weights: one epoch of in-order
    // training, then the 500 validation windows, the state carried throughout (never reset,
    // as in tfjs's fit); each epoch's MSE in float64 from the predictions and targets
    const replica = sunspotRnn();
    const initial = Object.values(outcome.record.initialWeights!).sort((a, b) => a.order - b.order);
    replica.setWeights(initial.map((w) => tf.tensor(w.values, w.shape)));
    replica.compile({ optimizer: new DecayedAdam(1e-3, 1e-4), loss: "meanSquaredError" });
    const scaler = new MinMaxScaler([-1, 1]).fit(outcome.series.values);
    const windows = makeWindows(scaler.transform(outcome.series.values), 15);
    const [x, y] = windowTensors(windows, 0, 2300);
    const [xVal] = windowTensors(windows, 2300, 2800);
    const targets = windows.y.subarray(2300, 2800);
    const predict = () =>
      tf.tidy(() => (replica.predict(xVal, { batchSize: 20 }) as tf.Tensor).dataSync());
    for (let epoch = 0; epoch < 4; epoch++) {
      await replica.fit(x, y, { epochs: 1, batchSize: 20, shuffle: false, verbose: 0 });
      const p = predict();
      const mse = targets.reduce((a, t, i) => a + (t - p[i]) ** 2, 0) / 500;
      assertClose(v[epoch], mse, 1e-6 * mse, `val_loss of epoch ${epoch + 1}`);
    }
    // the run's forecast is the next pass over the windows, from the state validation left
    const forecast = scaler.inverse(predict());
    forecast.forEach((f, i) => assertClose(outcome.predicted[i], f, 1e-4, `forecast ${i}`));
    releaseKeptStates(replica);
    tf.dispose([x, y, xVal]);
    replica.dispose();
  });
});
