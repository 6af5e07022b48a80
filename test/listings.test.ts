import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import * as tf from "@tensorflow/tfjs";
import * as lib from "advanced-neural-models";
import {
  FASHION_BOOK,
  alignLayers,
  MNIST_BOOK,
  SUNSPOTS_BOOK,
  compileFashion,
  compileMnist,
  compileSunspots,
  describeArchitecture,
  fashionCnn,
  fidelityTable,
  initBackend,
  layerDifferences,
  mnistCnn,
  readRecord,
  runMnistExperiment,
  runSunspotsExperiment,
  sunspotRnn,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

const NOTEBOOKS = path.join(__dirname, "..", "notebooks");

/** The source of the cell of `notebook` tagged `tag`. */
function taggedCell(notebook: string, tag: string): string {
  const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, notebook), "utf8")) as {
    cells: { metadata?: { tags?: string[] }; source: string[] }[];
  };
  const cells = nb.cells.filter((c) => c.metadata?.tags?.includes(tag));
  assert.strictEqual(cells.length, 1, `${notebook}: one cell tagged ${tag}`);
  return cells[0].source.join("");
}

/**
 * Runs a notebook's listing cell and compile cell (TypeScript, as tslab would) with `tf` and the
 * library in scope, the display functions silenced, after `edit` of the listing's source;
 * returns the `model` they define.
 */
function notebookModel(notebook: string, edit = (s: string) => s): tf.LayersModel {
  const source = edit(taggedCell(notebook, "listing")) + "\n" + taggedCell(notebook, "compile");
  const js = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.None },
  }).outputText;
  const scope: Record<string, unknown> = { ...lib, tf, showTable: () => undefined };
  const names = Object.keys(scope).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k));
  const run = new Function(...names, `${js}\nreturn model;`) as (...a: unknown[]) => unknown;
  return run(...names.map((k) => scope[k])) as tf.LayersModel;
}

/** A library network compiled as the book compiles it. */
function book(build: () => tf.LayersModel, compile: (m: tf.LayersModel) => void) {
  const m = build();
  compile(m);
  return m;
}

const free = (...models: tf.LayersModel[]) =>
  models.forEach((m) => {
    m.optimizer?.dispose();
    m.dispose();
  });

describe("the book's listings in the notebooks", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  const cases = [
    {
      notebook: "05-mnist-cnn.ipynb",
      reference: () => book(mnistCnn, (m) => compileMnist(m, MNIST_BOOK)),
      parameters: 1120074,
    },
    {
      notebook: "06-fashion-mnist-augmentation.ipynb",
      reference: () => book(fashionCnn, (m) => compileFashion(m, FASHION_BOOK)),
      parameters: 7770442,
    },
    {
      notebook: "09-sunspots-lstm.ipynb",
      reference: () => book(sunspotRnn, (m) => compileSunspots(m, SUNSPOTS_BOOK)),
      parameters: 101,
    },
  ];
  for (const c of cases) {
    it(`${c.notebook}: the listing and compile cells equal the library's network, layer for layer`, () => {
      const model = notebookModel(c.notebook),
        reference = c.reference();
      try {
        assert.deepStrictEqual(layerDifferences(model, reference), []);
        const a = describeArchitecture(model, reference);
        assert.deepStrictEqual(a.differences, []);
        assert.strictEqual(a.book, true);
        // the book's parameter count (Keras's count_params() printed in the chapter / its scripts)
        assert.strictEqual(a.parameters, c.parameters);
      } finally {
        free(model, reference);
      }
    });
  }

  it("a changed listing is seen: another filter count, pooling type or optimizer", () => {
    const reference = cases[0].reference();
    const eight = notebookModel("05-mnist-cnn.ipynb", (s) =>
      s.replace("filters: 16", "filters: 8"),
    );
    // conv 1: 3·3·1·8 + 8; conv 2 now reads 8 channels: 3·3·8·32 + 32; the rest is unchanged
    const expected =
      1120074 - (3 * 3 * 16 + 16) - (3 * 3 * 16 * 32 + 32) + 80 + (3 * 3 * 8 * 32 + 32);
    assert.strictEqual(eight.countParams(), expected);
    assert.strictEqual(expected, 1117690);
    assert.deepStrictEqual(layerDifferences(eight, reference), [
      "layer 2 (Conv2D): filters 8, book 16",
    ]);
    const max = notebookModel("05-mnist-cnn.ipynb", (s) =>
      s.replace(/averagePooling2d/g, "maxPooling2d"),
    );
    assert.deepStrictEqual(layerDifferences(max, reference), [
      "layer 6: MaxPooling2D, book AveragePooling2D",
      "layer 8: MaxPooling2D, book AveragePooling2D",
      "layer 11: MaxPooling2D, book AveragePooling2D",
    ]);
    const other = mnistCnn();
    other.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy" });
    const a = describeArchitecture(other, reference);
    assert.strictEqual(a.book, false);
    assert.match(a.differences.join("\n"), /^optimizer SGD \{"learningRate":0\.1\}, book Adam/m);
    free(eight, max, other, reference);
  });

  it("a modified run trains the cell's network, and results.json and notebook 00 say so", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "listing-"));
    const settings = { ...MNIST_BOOK, trainSamples: 64, testSamples: 50, epochs: 1 };
    const run = async (name: string, model: tf.LayersModel) => {
      const out = path.join(root, "notebook-runs", name);
      const before = tf.memory().numTensors;
      const o = await runMnistExperiment(settings, { out, progress: false, charts: false }, model);
      assert.strictEqual(o.model, model, "the runner trains the model it was given");
      tf.dispose([o.xTest, o.yTest]);
      // what stays is the given model's Adam state: two moments per trainable weight
      assert.strictEqual(
        tf.memory().numTensors - before,
        2 * model.trainableWeights.length,
        `${name}: tensors left behind`,
      );
      return readRecord(out)!;
    };
    const plain = notebookModel("05-mnist-cnn.ipynb");
    const bookRecord = await run("mnist-book", plain);
    assert.strictEqual(bookRecord.architecture?.book, true);
    const eight = notebookModel("05-mnist-cnn.ipynb", (s) =>
      s.replace("filters: 16", "filters: 8"),
    );
    const modified = await run("mnist-eight", eight);
    assert.strictEqual(modified.architecture?.book, false);
    assert.strictEqual(modified.architecture?.parameters, 1117690);
    assert.deepStrictEqual(modified.architecture?.differences, [
      "layer 2 (Conv2D): filters 8, book 16",
    ]);
    assert.strictEqual(modified.architecture?.layers[1].params, 80);
    const yours = fidelityTable(root)
      .filter((r) => r.section.includes("MNIST") || r.claim.includes("MNIST"))
      .filter((r) => r.yoursRun !== "")
      .map((r) => r.yoursRun);
    assert.ok(yours.length > 0, "notebook 00 shows the MNIST runs");
    assert.ok(
      yours.every((v) => v.includes("MODIFIED network")),
      `the newest MNIST run is the modified one: ${yours.join(" | ")}`,
    );
    free(plain, eight);
  });

  it("a given network starts from the run's seed: the listing's run repeats the library's", async () => {
    const settings = { ...MNIST_BOOK, trainSamples: 64, testSamples: 50, epochs: 1 };
    const library = await runMnistExperiment(settings, { progress: false });
    const listing = notebookModel("05-mnist-cnn.ipynb");
    const given = await runMnistExperiment(settings, { progress: false }, listing);
    assert.deepStrictEqual(given.record.history, library.record.history);
    assert.deepStrictEqual(Array.from(given.predicted), Array.from(library.predicted));
    tf.dispose([library.xTest, library.yTest, given.xTest, given.yTest]);
    // a second run of the trained network is refused, not continued as if fresh
    await assert.rejects(
      runMnistExperiment(settings, { progress: false }, listing),
      /^Error: mnist: this model has trained already \(its optimizer took 1 step\(s\)\); run the cells that build and compile it again/,
    );
    free(library.model, listing);
  });

  it("resuming a checkpoint made before a setting existed takes that setting's book value", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "old-ckpt-")), "run");
    const settings = { ...MNIST_BOOK, trainSamples: 64, testSamples: 50, epochs: 1 };
    const first = await runMnistExperiment(settings, {
      out,
      checkpoints: true,
      progress: false,
      charts: false,
    });
    tf.dispose([first.xTest, first.yTest]);
    free(first.model);
    const meta = path.join(out, "checkpoint", "checkpoint.json");
    const edit = (drop: string) => {
      const m = JSON.parse(fs.readFileSync(meta, "utf8"));
      delete m.settings[drop];
      fs.writeFileSync(meta, JSON.stringify(m));
    };
    edit("decay"); // ran at the book's 1e-5: resumable
    const resumed = await runMnistExperiment(
      { ...settings, epochs: 2 },
      { out, resume: true, checkpoints: true, progress: false, charts: false },
    );
    assert.strictEqual(resumed.record.metrics.epochs, 2);
    tf.dispose([resumed.xTest, resumed.yTest]);
    free(resumed.model);
    edit("trainSamples"); // the book's is 60,000, this run's 64: another run
    await assert.rejects(
      runMnistExperiment({ ...settings, epochs: 3 }, { out, resume: true, progress: false }),
      /the checkpoint was made with other settings \(trainSamples: 60000\)/,
    );
  });

  it("a stateful listing whose batch does not fit the settings is refused before training", async () => {
    const sixteen = notebookModel("09-sunspots-lstm.ipynb", (s) =>
      s.replace("[20, 15, 1]", "[16, 15, 1]"),
    );
    await assert.rejects(
      runSunspotsExperiment({ ...SUNSPOTS_BOOK, epochs: 1 }, { progress: false }, sixteen),
      /^Error: sunspots: the model takes inputs of shape \[16,15,1\], the data are \[20,15,1\]/,
    );
    free(sixteen);
  });
});

describe("experiment settings are checked before any work", () => {
  it("a misspelled setting is refused with the list of settings", async () => {
    await assert.rejects(
      runMnistExperiment({ ...MNIST_BOOK, lerningRate: 0.1 } as never),
      /^Error: mnist: lerningRate is not a setting; the settings are trainSamples, testSamples, /,
    );
  });

  it("a value out of range names the setting and what it may be", async () => {
    await assert.rejects(
      runMnistExperiment({ ...MNIST_BOOK, batchSize: 0 }),
      /^Error: mnist: batchSize must be a whole number from 1 to 60000, got 0$/,
    );
    await assert.rejects(
      runSunspotsExperiment({ ...SUNSPOTS_BOOK, cell: "rnn" as never }),
      /^Error: sunspots: cell must be one of "lstm", "gru", got "rnn"$/,
    );
  });

  it("a stateful batch size that does not divide the windows lists the sizes that fit", async () => {
    // the divisors of both 2,300 and 500, by brute force
    const fit = Array.from({ length: 500 }, (_, i) => i + 1).filter(
      (d) => 2300 % d === 0 && 500 % d === 0,
    );
    assert.deepStrictEqual(fit, [1, 2, 4, 5, 10, 20, 25, 50, 100]);
    await assert.rejects(
      runSunspotsExperiment({ ...SUNSPOTS_BOOK, batchSize: 32 }),
      new RegExp(`batchSize 32 does not fit the book protocol.*sizes that fit: ${fit.join(", ")} `),
    );
  });
});

describe("npm run experiment -- --set KEY=VALUE", () => {
  const cli = path.join(__dirname, "..", "dist", "cli", "experiment.js");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [cli, ...args], {
      encoding: "utf8",
      env: { ...process.env, CH10_BACKEND: TEST_BACKEND, ...env },
    });

  it("refuses an unknown or out-of-range setting, or a batch that does not fit, before any work", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "set-"));
    for (const [args, message] of [
      [["mnist", "--set", "lerningRate=0.1"], /mnist: lerningRate is not a setting; the settings/],
      [["fashion", "--set", "zoomRange=2"], /fashion: zoomRange must be a number from 0 to 0\.99/],
      [["sunspots", "--set", "batchSize=32"], /sizes that fit: 1, 2, 4, 5, 10, 20, 25, 50, 100/],
      [["mnist", "--set", "learningRate"], /--set needs KEY=VALUE/],
    ] as const) {
      const r = run([...args, "--out", out]);
      assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /backend:/, "refused before the backend started");
    }
    assert.deepStrictEqual(fs.readdirSync(out), [], "nothing written");
  });

  it("a setting given with --set is what trains and what results.json records", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "set-")), "run");
    const r = run(["mnist", "--set", "learningRate=0.0005", "--epochs", "1", "--out", out], {
      CH10_MODE: "smoke",
    });
    assert.strictEqual(r.status, 0, r.stdout + r.stderr);
    const record = readRecord(out)!;
    assert.strictEqual(record.settings.learningRate, 0.0005);
    assert.match(record.architecture!.optimizer, /"baseLearningRate":0\.0005/);
    // the optimizer differs from the book's (1e-3); the network does not
    assert.strictEqual(record.architecture!.book, false);
    assert.deepStrictEqual(
      record.architecture!.differences.filter((d) => d.startsWith("layer")),
      [],
    );
  });
});

describe("alignLayers", () => {
  /** Longest common subsequence length by brute force over all subsequences of `a`. */
  const lcsBrute = (a: string[], b: string[]): number => {
    let best = 0;
    for (let mask = 0; mask < 1 << a.length; mask++) {
      const sub = a.filter((_, i) => mask & (1 << i));
      let j = 0;
      for (const x of b) if (j < sub.length && sub[j] === x) j++;
      if (j === sub.length) best = Math.max(best, sub.length);
    }
    return best;
  };

  it("pairs every layer once, in order, and matches as many same-class layers as an LCS", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const seq = () =>
      Array.from({ length: Math.floor(rand() * 7) }, () => "ABC"[Math.floor(rand() * 3)]);
    for (let trial = 0; trial < 300; trial++) {
      const a = seq(),
        b = seq();
      const pairs = alignLayers(a, b);
      const left = pairs.map(([i]) => i).filter((i) => i !== undefined);
      const right = pairs.map(([, j]) => j).filter((j) => j !== undefined);
      assert.deepStrictEqual(
        left,
        a.map((_, i) => i),
        `${a} / ${b}`,
      );
      assert.deepStrictEqual(
        right,
        b.map((_, j) => j),
        `${a} / ${b}`,
      );
      const same = pairs.filter(([i, j]) => i !== undefined && j !== undefined && a[i] === b[j]);
      assert.strictEqual(same.length, lcsBrute(a, b), `${a} / ${b}`);
    }
  });

  it("names the missing BatchNormalization layers of a network without them", () => {
    const reference = fashionCnn();
    const noBn = notebookModel("06-fashion-mnist-augmentation.ipynb", (s) =>
      s
        .split("\n")
        .filter((l) => !l.includes("batchNormalization"))
        .join("\n"),
    );
    const lines = layerDifferences(noBn, reference);
    assert.strictEqual(lines.length, 7, lines.join("\n"));
    assert.ok(
      lines.every((l) =>
        /^layer \d+ \(BatchNormalization\) of the book's network is missing$/.test(l),
      ),
    );
    free(noBn, reference);
  });
});
