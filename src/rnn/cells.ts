import * as tf from "@tensorflow/tfjs";

/**
 * Gate activation: Keras 2 and tfjs default to `hardSigmoid`
 * (clip(0.2·x + 0.5, 0, 1)); Keras ≥ 2.3 uses `sigmoid`.
 */
export type GateActivation = "hardSigmoid" | "sigmoid";

const gate = (kind: GateActivation) =>
  kind === "sigmoid"
    ? (x: number) => 1 / (1 + Math.exp(-x))
    : (x: number) => Math.min(1, Math.max(0, 0.2 * x + 0.5));

/**
 * Weights of a recurrent layer in tfjs/Keras layout. `kernel` is `inputs x (gates·units)`,
 * `recurrent` is `units x (gates·units)`, row-major, with the gates side by side in columns:
 * LSTM i, f, c, o (input, forget, candidate, output); GRU z, r, h (update, reset, candidate).
 */
export interface RecurrentWeights {
  inputs: number;
  units: number;
  kernel: Float64Array;
  recurrent: Float64Array;
  bias: Float64Array;
}

/**
 * Diagonal peephole weights (Gers & Schmidhuber): each
 * gate also sees the cell state, the book's U_g·C term.
 */
export interface Peepholes {
  input: Float64Array;
  forget: Float64Array;
  output: Float64Array;
}

/** The weights of a tfjs `lstm` or `gru` layer (built) as float64 arrays. */
export function recurrentWeightsOf(layer: tf.layers.Layer): RecurrentWeights {
  const [k, r, b] = layer.getWeights();
  if (!k || !r || k.shape.length !== 2)
    throw new Error(
      `recurrentWeightsOf: layer "${layer.name}" has no kernel/recurrent kernel (build it first)`,
    );
  const units = r.shape[0];
  return {
    inputs: k.shape[0],
    units,
    kernel: Float64Array.from(k.dataSync()),
    recurrent: Float64Array.from(r.dataSync()),
    bias: b ? Float64Array.from(b.dataSync()) : new Float64Array(k.shape[1]),
  };
}

/**
 * Pre-activation of gate `g` for unit `j`: Σ x_k W[k, g·u+j] + Σ h_k U[k, g·u+j] + b[g·u+j].
 */
function preActivation(
  w: RecurrentWeights,
  gates: number,
  g: number,
  j: number,
  x: ArrayLike<number>,
  h: ArrayLike<number>,
): number {
  const cols = gates * w.units,
    col = g * w.units + j;
  let s = w.bias[col];
  for (let k = 0; k < w.inputs; k++) s += x[k] * w.kernel[k * cols + col];
  for (let k = 0; k < w.units; k++) s += h[k] * w.recurrent[k * cols + col];
  return s;
}

/** One LSTM step's state and gate values. */
export interface LstmStep {
  h: Float64Array;
  c: Float64Array;
  input: Float64Array;
  forget: Float64Array;
  candidate: Float64Array;
  output: Float64Array;
}

/**
 * One LSTM step written as the book's equations (LSTM section):
 *   f = σ(W_f·x + U_f·h + b_f),  i = σ(W_i·x + U_i·h + b_i),
 *   ĉ = tanh(W_c·x + U_c·h + b_c),  C = f ⊙ C₋₁ + i ⊙ ĉ,
 *   o = σ(W_o·x + U_o·h + b_o),  h = o ⊙ tanh(C);
 * with `peepholes`, f and i also add p ⊙ C₋₁ and o adds p_o ⊙ C.
 */
export function lstmStep(
  w: RecurrentWeights,
  x: ArrayLike<number>,
  hPrev: Float64Array,
  cPrev: Float64Array,
  options: { gate?: GateActivation; peepholes?: Peepholes } = {},
): LstmStep {
  const sigma = gate(options.gate ?? "hardSigmoid");
  const p = options.peepholes;
  const u = w.units;
  const s: LstmStep = {
    h: new Float64Array(u),
    c: new Float64Array(u),
    input: new Float64Array(u),
    forget: new Float64Array(u),
    candidate: new Float64Array(u),
    output: new Float64Array(u),
  };
  for (let j = 0; j < u; j++) {
    s.input[j] = sigma(preActivation(w, 4, 0, j, x, hPrev) + (p ? p.input[j] * cPrev[j] : 0));
    s.forget[j] = sigma(preActivation(w, 4, 1, j, x, hPrev) + (p ? p.forget[j] * cPrev[j] : 0));
    s.candidate[j] = Math.tanh(preActivation(w, 4, 2, j, x, hPrev));
    s.c[j] = s.forget[j] * cPrev[j] + s.input[j] * s.candidate[j];
    s.output[j] = sigma(preActivation(w, 4, 3, j, x, hPrev) + (p ? p.output[j] * s.c[j] : 0));
    s.h[j] = s.output[j] * Math.tanh(s.c[j]);
  }
  return s;
}

/** One GRU step's state and gate values. */
export interface GruStep {
  h: Float64Array;
  update: Float64Array;
  reset: Float64Array;
  candidate: Float64Array;
}

/**
 * One GRU step as in the book (GRU section) and tfjs (Keras `reset_after=False`, Cho et al.):
 *   z = σ(W_z·x + U_z·h + b_z),  r = σ(W_r·x + U_r·h + b_r),
 *   ĥ = tanh(W_h·x + U_h·(r ⊙ h) + b_h),  h' = z ⊙ h + (1 − z) ⊙ ĥ.
 * The reset gate acts on h *before* the product with U_h; tf.keras (TensorFlow 2) and Keras 3
 * default to `reset_after=True` (r ⊙ (U_h·h + b'_h), a second bias), which tfjs does not implement: a
 * GRU(4) on one input has 3·(4·1 + 4·4 + 2·4) = 84 parameters there, 3·(4·1 + 4·4 + 4) = 72 in
 * tfjs and in standalone Keras 2, which kept `reset_after=False` as its default.
 */
export function gruStep(
  w: RecurrentWeights,
  x: ArrayLike<number>,
  hPrev: Float64Array,
  options: { gate?: GateActivation } = {},
): GruStep {
  const sigma = gate(options.gate ?? "hardSigmoid");
  const u = w.units;
  const s: GruStep = {
    h: new Float64Array(u),
    update: new Float64Array(u),
    reset: new Float64Array(u),
    candidate: new Float64Array(u),
  };
  for (let j = 0; j < u; j++) {
    s.update[j] = sigma(preActivation(w, 3, 0, j, x, hPrev));
    s.reset[j] = sigma(preActivation(w, 3, 1, j, x, hPrev));
  }
  const resetH = hPrev.map((v, k) => s.reset[k] * v);
  for (let j = 0; j < u; j++) {
    let a = w.bias[2 * u + j];
    for (let k = 0; k < w.inputs; k++) a += x[k] * w.kernel[k * 3 * u + 2 * u + j];
    for (let k = 0; k < u; k++) a += resetH[k] * w.recurrent[k * 3 * u + 2 * u + j];
    s.candidate[j] = Math.tanh(a);
    s.h[j] = s.update[j] * hPrev[j] + (1 - s.update[j]) * s.candidate[j];
  }
  return s;
}

/** Runs {@link lstmStep} over a sequence (one input vector per step) from zero state. */
export function runLstm(
  w: RecurrentWeights,
  xs: ArrayLike<number>[],
  options: { gate?: GateActivation; peepholes?: Peepholes } = {},
): LstmStep[] {
  const steps: LstmStep[] = [];
  let h = new Float64Array(w.units),
    c = new Float64Array(w.units);
  for (const x of xs) {
    const s = lstmStep(w, x, h, c, options);
    steps.push(s);
    ({ h, c } = s);
  }
  return steps;
}

/** Runs {@link gruStep} over a sequence from zero state. */
export function runGru(
  w: RecurrentWeights,
  xs: ArrayLike<number>[],
  options: { gate?: GateActivation } = {},
): GruStep[] {
  const steps: GruStep[] = [];
  let h = new Float64Array(w.units);
  for (const x of xs) {
    const s = gruStep(w, x, h, options);
    steps.push(s);
    h = s.h;
  }
  return steps;
}

/** The largest absolute value over a sequence of vectors (e.g. the h or C of every step). */
export function largestAbs(rows: ArrayLike<number>[]): number {
  let m = 0;
  for (const r of rows) for (let j = 0; j < r.length; j++) m = Math.max(m, Math.abs(r[j]));
  return m;
}

/**
 * `w` with its output gate shut: the output gate's bias (the last `units` entries, the gates
 * being stored i, f, c, o) set to −10, where the hard sigmoid is exactly 0 and the logistic one
 * 4.5e-5, so h = o ⊙ tanh(C) stays (about) 0.
 */
export function closeOutputGate(w: RecurrentWeights): RecurrentWeights {
  return { ...w, bias: w.bias.map((b, k) => (k >= 3 * w.units ? -10 : b)) };
}

/**
 * How much the past moved the forget gate of an LSTM run: the largest difference between the
 * forget gate of each step of `steps` and the one the same weights `w` give from the input
 * alone (a zero state). 0 means the gate learned nothing from earlier steps.
 */
export function forgetGateFromPast(
  w: RecurrentWeights,
  xs: ArrayLike<number>[],
  steps: LstmStep[],
): number {
  const zero = new Float64Array(w.units);
  return largestAbs(
    steps.map((s, t) => {
      const alone = lstmStep(w, xs[t], zero, zero).forget;
      return s.forget.map((v, j) => v - alone[j]);
    }),
  );
}
