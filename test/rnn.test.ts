import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  SimpleRnnParams,
  gaussian,
  gradientNormThroughTime,
  initBackend,
  closeOutputGate,
  forgetGateFromPast,
  largestAbs,
  lstmStep,
  recurrentWeightsOf,
  rnnBptt,
  runGru,
  runLstm,
  scaledOrthogonal,
  seededRandom,
  sequenceLoss,
  trainTbptt,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

function randomParams(
  units: number,
  inputs: number,
  seed: number,
  activation: SimpleRnnParams["activation"] = "tanh",
): SimpleRnnParams {
  const g = gaussian(seededRandom(seed));
  const m = (rows: number, cols: number, s: number) => ({
    rows,
    cols,
    data: Float64Array.from({ length: rows * cols }, () => g() * s),
  });
  return {
    W: m(units, inputs, 0.5),
    U: m(units, units, 0.4),
    b: Float64Array.from({ length: units }, () => g() * 0.1),
    V: m(2, units, 0.5),
    c: Float64Array.from({ length: 2 }, g),
    activation,
  };
}

describe("simple RNN: BPTT", () => {
  const xs = Array.from({ length: 7 }, (_, t) =>
    Float64Array.of(Math.sin(t), Math.cos(2 * t), 0.3 * t),
  );
  const ys = xs.map((_, t) => (t % 2 === 0 ? Float64Array.of(0.5, -0.2 * t) : undefined));

  for (const activation of ["tanh", "linear"] as const) {
    it(`gradients of every parameter equal central finite differences (${activation})`, () => {
      const p = randomParams(4, 3, 1, activation);
      const { grads } = rnnBptt(p, xs, ys);
      const eps = 1e-6;
      for (const [name, target, grad] of [
        ["W", p.W.data, grads.W],
        ["U", p.U.data, grads.U],
        ["b", p.b, grads.b],
        ["V", p.V.data, grads.V],
        ["c", p.c, grads.c],
      ] as const) {
        for (let i = 0; i < target.length; i++) {
          const keep = target[i];
          target[i] = keep + eps;
          const up = sequenceLoss(p, xs, ys);
          target[i] = keep - eps;
          const down = sequenceLoss(p, xs, ys);
          target[i] = keep;
          const fd = (up - down) / (2 * eps);
          assert.ok(
            Math.abs(fd - grad[i]) < 1e-6 * Math.max(1, Math.abs(fd)),
            `${name}[${i}]: BPTT ${grad[i]} vs finite difference ${fd}`,
          );
        }
      }
    });
  }

  it("truncate = sequence length is full BPTT; truncate = 1 keeps only the direct term", () => {
    const p = randomParams(3, 3, 2);
    const full = rnnBptt(p, xs, ys).grads,
      same = rnnBptt(p, xs, ys, { truncate: xs.length }).grads,
      one = rnnBptt(p, xs, ys, { truncate: 1 }).grads;
    assert.deepStrictEqual(Array.from(same.U), Array.from(full.U));
    // with truncate 1 the gradient of U is Σ_t da_t ⊗
    // h_{t-1} with da_t from the output of step t only
    const trace = rnnBptt(p, xs, ys).trace;
    const expected = new Float64Array(9);
    ys.forEach((y, t) => {
      if (!y) return;
      const e = trace.y[t].map((v, o) => v - y[o]);
      for (let i = 0; i < 3; i++) {
        let dh = 0;
        for (let o = 0; o < 2; o++) dh += p.V.data[o * 3 + i] * e[o];
        const da = dh * (1 - Math.tanh(trace.a[t][i]) ** 2);
        for (let j = 0; j < 3; j++) expected[i * 3 + j] += da * trace.h[t][j];
      }
    });
    Array.from(one.U).forEach((v, i) =>
      assert.ok(Math.abs(v - expected[i]) < 1e-12, `U[${i}]: ${v} vs ${expected[i]}`),
    );
  });

  it("the gradient norm through t steps is ρ^t for a linear neuron, U = ρ·orthogonal", () => {
    for (const rho of [0.9, 1, 1.1]) {
      const p: SimpleRnnParams = {
        ...randomParams(6, 6, 3, "linear"),
        U: scaledOrthogonal(6, rho, 4),
      };
      const norms = gradientNormThroughTime(
        p,
        Array.from({ length: 40 }, () => new Float64Array(6)),
      );
      norms.forEach((n, t) =>
        assert.ok(
          Math.abs(n / rho ** (t + 1) - 1) < 1e-9,
          `ρ=${rho}, t=${t + 1}: ${n} vs ${rho ** (t + 1)}`,
        ),
      );
    }
  });

  it("TBPTT learns a delay-6 echo with k2 = 12, not k2 = 3, at a fraction of BPTT's cost", () => {
    const rand = seededRandom(3);
    const x = Array.from({ length: 60 }, () => Float64Array.of(rand() < 0.5 ? -1 : 1));
    const y = x.map((_, t) => (t >= 6 ? Float64Array.of(x[t - 6][0]) : undefined));
    const net = (): SimpleRnnParams => {
      const g = gaussian(seededRandom(7));
      return {
        W: { rows: 12, cols: 1, data: Float64Array.from({ length: 12 }, () => g() * 0.5) },
        U: scaledOrthogonal(12, 0.9, 5),
        b: new Float64Array(12),
        V: { rows: 1, cols: 12, data: Float64Array.from({ length: 12 }, () => g() * 0.3) },
        c: new Float64Array(1),
        activation: "tanh",
      };
    };
    const run = (k2: number) =>
      trainTbptt(net(), x, y, { k1: 10, k2, learningRate: 0.02, epochs: 150, clipNorm: 5 });
    const long = run(12),
      short = run(3),
      full = run(Infinity);
    const guess = 0.5 * 54;
    assert.ok(long.losses[149] < 0.05 * guess, `k2=12 final loss ${long.losses[149]}`);
    assert.ok(short.losses[149] > 0.1 * guess, `k2=3 should fail, final loss ${short.losses[149]}`);
    assert.ok(
      long.backwardSteps < 0.5 * full.backwardSteps,
      `${long.backwardSteps} vs full ${full.backwardSteps}`,
    );
  });
});

describe("LSTM and GRU cells from their equations", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });
  const seq = Array.from({ length: 9 }, (_, t) => [Math.sin(t), Math.cos(0.7 * t), 0.1 * t - 0.4]);

  it("a closed output gate: h is 0, the forget gate sees only the input; peepholes see C again", () => {
    const layer = tf.layers.lstm({
      units: 4,
      returnSequences: true,
      biasInitializer: "randomNormal",
    });
    layer.apply(tf.tensor3d([seq]));
    const w = recurrentWeightsOf(layer);
    const closed = closeOutputGate(w);
    // hard sigmoid: clip(0.2·x + 0.5, 0, 1), and 0.2·(−10 + W·x + U·h) + 0.5 < 0 for these inputs
    const steps = runLstm(closed, seq);
    assert.strictEqual(largestAbs(steps.map((s) => s.output)), 0);
    assert.strictEqual(largestAbs(steps.map((s) => s.h)), 0);
    assert.strictEqual(forgetGateFromPast(w, seq, steps), 0);
    assert.ok(largestAbs(steps.map((s) => s.c)) > 0.05, "the state still changes");
    // the open LSTM's forget gate does depend on the past, by the brute-force difference
    const open = runLstm(w, seq);
    const zero = new Float64Array(4);
    let brute = 0;
    open.forEach((s, t) =>
      s.forget.forEach((v, j) => {
        brute = Math.max(brute, Math.abs(v - lstmStep(w, seq[t], zero, zero).forget[j]));
      }),
    );
    assert.ok(brute > 0);
    assert.strictEqual(forgetGateFromPast(w, seq, open), brute);
    const p = new Float64Array(4).fill(2);
    const peep = runLstm(closed, seq, {
      peepholes: { input: p, forget: p, output: new Float64Array(4) },
    });
    assert.ok(forgetGateFromPast(w, seq, peep) > 0.01, "with peepholes the past reaches the gate");
  });

  for (const [kind, gate] of [
    ["lstm", "hardSigmoid"],
    ["lstm", "sigmoid"],
    ["gru", "hardSigmoid"],
    ["gru", "sigmoid"],
  ] as const) {
    it(`${kind} (${gate}) matches tf.layers.${kind} with the same weights to 1e-5`, () => {
      const layer = (kind === "lstm" ? tf.layers.lstm : tf.layers.gru)({
        units: 5,
        returnSequences: true,
        recurrentActivation: gate,
        biasInitializer: "randomNormal",
      });
      const x = tf.tensor3d([seq]);
      const theirs = (layer.apply(x) as tf.Tensor).arraySync() as number[][][];
      const w = recurrentWeightsOf(layer);
      const ours =
        kind === "lstm"
          ? runLstm(w, seq, { gate }).map((s) => s.h)
          : runGru(w, seq, { gate }).map((s) => s.h);
      let worst = 0;
      ours.forEach((h, t) =>
        h.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - theirs[0][t][j])))),
      );
      assert.ok(worst < 1e-5, `max difference ${worst}`);
      tf.dispose([x]);
      layer.dispose();
    });
  }

  it("zero peepholes change nothing; a forget-gate peephole adds p·C to the gate", () => {
    const layer = tf.layers.lstm({ units: 3, recurrentActivation: "sigmoid" });
    layer.apply(tf.zeros([1, 2, 3]));
    const w = recurrentWeightsOf(layer);
    const zero = {
      input: new Float64Array(3),
      forget: new Float64Array(3),
      output: new Float64Array(3),
    };
    const a = runLstm(w, seq, { gate: "sigmoid" }),
      b = runLstm(w, seq, { gate: "sigmoid", peepholes: zero });
    assert.deepStrictEqual(
      b.map((s) => Array.from(s.h)),
      a.map((s) => Array.from(s.h)),
    );
    const h = Float64Array.of(0.1, -0.2, 0.3),
      c = Float64Array.of(0.5, -1, 2);
    const plain = lstmStep(w, seq[0], h, c, { gate: "sigmoid" });
    const peep = lstmStep(w, seq[0], h, c, {
      gate: "sigmoid",
      peepholes: { ...zero, forget: Float64Array.of(1, 1, 1) },
    });
    const logit = (p: number) => Math.log(p / (1 - p));
    for (let j = 0; j < 3; j++)
      assert.ok(Math.abs(logit(peep.forget[j]) - logit(plain.forget[j]) - c[j]) < 1e-9);
  });
});
