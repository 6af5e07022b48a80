import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import * as lib from "advanced-neural-models";
import {
  at,
  cellDiagram,
  fromColumns,
  initBackend,
  recurrentExercises,
  toSvg,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";
import { verdictOf, variantExperiment } from "advanced-neural-models/dist/exercises/compare";
import { checkExercise } from "advanced-neural-models";

const spread = { sd: 0.01, mean: 0.9, seeds: 5, backend: "cpu" };

/** What `fn` prints with console.log, and what it returns. */
async function printed<T>(fn: () => Promise<T>): Promise<{ lines: string; value: T }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { value: await fn(), lines: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

describe("experiment exercises", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("verdictOf: no different within 2·√2·sd of the baseline, better or worse beyond", () => {
    const noise = 2 * Math.sqrt(2) * 0.01; // sd of the difference of two runs, two of them
    assert.strictEqual(verdictOf(0.9 + noise + 1e-4, 0.9, spread, true), "better");
    assert.strictEqual(verdictOf(0.9 + noise - 1e-4, 0.9, spread, true), "no different");
    assert.strictEqual(verdictOf(0.9 - noise - 1e-4, 0.9, spread, true), "worse");
    // lower is better (an MSE): the same gaps, the other way round
    assert.strictEqual(verdictOf(0.9 - noise - 1e-4, 0.9, spread, false), "better");
    assert.strictEqual(verdictOf(0.9 + noise + 1e-4, 0.9, spread, false), "worse");
  });

  it("unsolved or wrong: says so and trains nothing; solved: trains the baseline, then the variant", async () => {
    const scored: string[] = [];
    const experiment = (variant: string | undefined) =>
      variantExperiment<string>({
        exercise: "Exercise 9",
        variant,
        unsolvedHint: "build it",
        problem: (v) => (v === "wrong" ? "not like that" : undefined),
        protocol: "a test protocol",
        metric: "accuracy",
        higherIsBetter: true,
        score: async (v) => {
          scored.push(v ?? "baseline");
          return v ? 0.95 : 0.9;
        },
        spread,
        mode: "smoke",
      });
    const unsolved = await printed(() => experiment(undefined));
    assert.strictEqual(unsolved.value, undefined);
    assert.match(unsolved.lines, /^✘ Exercise 9: not yet\. build it$/m);
    const wrong = await printed(() => experiment("wrong"));
    assert.match(wrong.lines, /^✘ Exercise 9: not yet\. not like that$/m);
    assert.deepStrictEqual(scored, [], "nothing trains before the variant is right");
    const solved = await printed(() => experiment("mine"));
    assert.deepStrictEqual(scored, ["baseline", "mine"]);
    assert.strictEqual(solved.value, "better"); // 0.05 > 2·√2·0.01
    assert.match(
      solved.lines,
      /Your network: BETTER compared with the book's network: accuracy \+0\.0500/,
    );
    assert.match(solved.lines, /^✔ Exercise 9: well done\.$/m);
  });

  it("the sunspot experiment refuses a network the stateful batches cannot feed, before training", async () => {
    const model = tf.sequential({
      layers: [tf.layers.lstm({ units: 8, inputShape: [15, 1] }), tf.layers.dense({ units: 1 })],
    });
    const out = await printed(() => recurrentExercises.architectureExperiment(model, "smoke"));
    assert.match(
      out.lines,
      /✘ Exercise 4: not yet\. your network takes batches of shape \[null,15,1\]/,
    );
    assert.doesNotMatch(out.lines, /Training/);
    model.dispose();
  });
});

describe("checkExercise", () => {
  it("holds the hint back until the reader has tried; a right answer needs no hint", async () => {
    const run = (passed: boolean, tried: boolean) =>
      printed(async () => checkExercise("Exercise 1", passed, "the hint", tried));
    assert.match((await run(false, false)).lines, /^✘ Exercise 1: not yet\. Put your answer/);
    assert.doesNotMatch((await run(false, false)).lines, /the hint/);
    assert.strictEqual((await run(false, true)).lines, "✘ Exercise 1: not yet. the hint");
    assert.strictEqual((await run(true, true)).lines, "✔ Exercise 1: well done.");
    // the checks pass `tried`: the shipped 0 holds the hint back, a wrong try gets it
    const denseParams = (n: number) =>
      printed(async () => lib.convolutionExercises.checkDenseParams(n));
    assert.doesNotMatch((await denseParams(0)).lines, /n·m \+ m/);
    assert.match((await denseParams(1000)).lines, /n·m \+ m/);
  });
});

describe("cellDiagram", () => {
  for (const cell of ["lstm", "gru"] as const) {
    it(`${cell}: renders every block and signal`, async () => {
      const svg = await toSvg(cellDiagram(cell));
      const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
      const want =
        cell === "lstm"
          ? ["σ  f", "σ  i", "tanh  C~", "σ  o", "C(t−1)", "C(t)", "x(t)", "output h(t)"]
          : ["σ  r", "σ  z", "tanh  h~", "1−", "h(t−1)", "h(t)", "x(t)"];
      for (const w of want) assert.ok(texts.includes(w), `${w} in ${texts.join(" | ")}`);
    });
  }
});

describe("bookLogTable", () => {
  it("puts the book's logged epochs beside the run's, the first three always", () => {
    const log = {
      1: { loss: 0.5, acc: 0.8 },
      2: { loss: 0.4, acc: 0.85 },
      3: { loss: 0.3, acc: 0.9 },
      99: { loss: 0.1, acc: 0.99 },
    };
    const rows = lib.bookLogTable({ loss: [2, 1], accuracy: [0.1, 0.2] }, log, [
      { book: "loss" },
      { book: "acc" },
    ]);
    assert.deepStrictEqual(rows, [
      {
        epoch: 1,
        "loss (this run)": 2,
        "loss (book)": 0.5,
        "acc (this run)": 0.1,
        "acc (book)": 0.8,
      },
      {
        epoch: 2,
        "loss (this run)": 1,
        "loss (book)": 0.4,
        "acc (this run)": 0.2,
        "acc (book)": 0.85,
      },
      {
        epoch: 3,
        "loss (this run)": "-",
        "loss (book)": 0.3,
        "acc (this run)": "-",
        "acc (book)": 0.9,
      },
    ]);
  });
});

describe("fromColumns", () => {
  it("puts vector j in column j (a units × time image of per-step vectors)", () => {
    const steps = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const m = fromColumns(steps);
    assert.deepStrictEqual([m.rows, m.cols], [3, 2]);
    for (let t = 0; t < 2; t++)
      for (let u = 0; u < 3; u++) assert.strictEqual(at(m, u, t), steps[t][u]);
    assert.throws(() => fromColumns([[1, 2], [3]]), /row 1 has 1 values, expected 2/);
  });
});
