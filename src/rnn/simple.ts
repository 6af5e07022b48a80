import { Matrix } from "../core/matrix";
import { matTVec, matVec, norm } from "./linalg";

/** Activation of a recurrent neuron and its derivative written in terms of the output. */
export type Activation = "tanh" | "relu" | "linear";

const ACT: Record<Activation, { f: (a: number) => number; df: (a: number) => number }> = {
  tanh: { f: Math.tanh, df: (a) => 1 - Math.tanh(a) ** 2 },
  relu: { f: (a) => Math.max(0, a), df: (a) => (a > 0 ? 1 : 0) },
  linear: { f: (a) => a, df: () => 1 },
};

/**
 * A simple recurrent layer ("循环神经网络"): h_t = f(W·x_t + U·h_{t−1} + b), read out as
 * ŷ_t = V·h_t + c. W is `units x inputs`, U `units x units`, V `outputs x units`.
 */
export interface SimpleRnnParams {
  W: Matrix;
  U: Matrix;
  b: Float64Array;
  V: Matrix;
  c: Float64Array;
  activation: Activation;
}

/** The unrolled forward pass: pre-activations a_t, states h_t (h[0] is h_0) and outputs ŷ_t. */
export interface RnnTrace {
  a: Float64Array[];
  h: Float64Array[];
  y: Float64Array[];
}

/** Runs the network over `xs` (one vector per time step) from state `h0` (default zeros). */
export function rnnForward(p: SimpleRnnParams, xs: Float64Array[], h0?: Float64Array): RnnTrace {
  const units = p.U.rows;
  const h = [h0 ?? new Float64Array(units)];
  const a: Float64Array[] = [],
    y: Float64Array[] = [];
  const { f } = ACT[p.activation];
  for (const x of xs) {
    const wx = matVec(p.W, x),
      uh = matVec(p.U, h[h.length - 1]);
    const at = wx.map((v, i) => v + uh[i] + p.b[i]);
    const ht = at.map(f);
    a.push(at);
    h.push(ht);
    y.push(matVec(p.V, ht).map((v, i) => v + p.c[i]));
  }
  return { a, h, y };
}

/** Gradients of the loss with respect to every parameter, shaped like them. */
export interface RnnGradients {
  W: Float64Array;
  U: Float64Array;
  b: Float64Array;
  V: Float64Array;
  c: Float64Array;
}

/** Options of {@link rnnBptt}. */
export interface BpttOptions {
  /**
   * Back-propagate each loss term through at most this
   * many steps (truncated BPTT's k₂); default: all.
   */
  truncate?: number;
  h0?: Float64Array;
}

/**
 * Back-propagation through time ("时间反向传播") for the loss
 * L = ½ Σ_t ‖ŷ_t − y_t‖² over the steps whose target is given (`targets[t]` undefined: no
 * loss at t). Each loss term's error travels back through the unrolled network, multiplied at
 * every step by diag(f′(a_t))·Uᵀ; with `truncate = k` it stops after k steps (the
 * approximation TBPTT makes).
 */
export function rnnBptt(
  p: SimpleRnnParams,
  xs: Float64Array[],
  targets: (Float64Array | undefined)[],
  options: BpttOptions = {},
): { loss: number; grads: RnnGradients; trace: RnnTrace } {
  const trace = rnnForward(p, xs, options.h0);
  const T = xs.length,
    units = p.U.rows,
    inputs = p.W.cols,
    outs = p.V.rows;
  const g: RnnGradients = {
    W: new Float64Array(units * inputs),
    U: new Float64Array(units * units),
    b: new Float64Array(units),
    V: new Float64Array(outs * units),
    c: new Float64Array(outs),
  };
  const { df } = ACT[p.activation];
  const k = options.truncate ?? T;
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const target = targets[t];
    if (!target) continue;
    const e = trace.y[t].map((v, i) => v - target[i]);
    loss += 0.5 * e.reduce((s, v) => s + v * v, 0);
    const ht = trace.h[t + 1];
    for (let o = 0; o < outs; o++) {
      g.c[o] += e[o];
      for (let j = 0; j < units; j++) g.V[o * units + j] += e[o] * ht[j];
    }
    let dh = matTVec(p.V, e);
    for (let s = t; s >= Math.max(0, t - k + 1); s--) {
      const da = dh.map((v, i) => v * df(trace.a[s][i]));
      const hPrev = trace.h[s];
      for (let i = 0; i < units; i++) {
        g.b[i] += da[i];
        for (let j = 0; j < inputs; j++) g.W[i * inputs + j] += da[i] * xs[s][j];
        for (let j = 0; j < units; j++) g.U[i * units + j] += da[i] * hPrev[j];
      }
      dh = matTVec(p.U, da);
    }
  }
  return { loss, grads: g, trace };
}

/**
 * ‖∂h_t/∂h_0‖ (spectral norm estimated on a direction: the growth of a unit perturbation of
 * h_0) for t = 1..steps, along the trajectory driven by `xs`: the product of the Jacobians
 * diag(f′(a_t))·U that BPTT multiplies the error by. For a linear neuron and U = ρ·orthogonal
 * it is exactly ρᵗ: vanishing for ρ < 1, exploding for ρ > 1.
 */
export function gradientNormThroughTime(
  p: SimpleRnnParams,
  xs: Float64Array[],
  direction?: Float64Array,
): number[] {
  const trace = rnnForward(p, xs);
  const { df } = ACT[p.activation];
  let v: Float64Array =
    direction ?? Float64Array.from({ length: p.U.rows }, (_, i) => (i === 0 ? 1 : 0));
  v = v.map((x) => x / norm(v));
  const out: number[] = [];
  for (let t = 0; t < xs.length; t++) {
    const uv = matVec(p.U, v);
    v = uv.map((x, i) => x * df(trace.a[t][i]));
    out.push(norm(v));
  }
  return out;
}

/** Options of {@link trainTbptt}. */
export interface TbpttOptions {
  /** Update the weights every k₁ steps. */
  k1: number;
  /**
   * Back-propagate each loss term through k₂ steps (Infinity: through
   * the whole sequence so far = full BPTT over each chunk's history).
   */
  k2: number;
  learningRate: number;
  epochs: number;
  /** Clip each gradient's norm to this (default none). */
  clipNorm?: number;
}

/**
 * Trains `p` in place with truncated BPTT (Williams & Peng's TBPTT(k₁, k₂)): the sequence is
 * read k₁ steps at a time, carrying the state; after each chunk the loss terms of that chunk are
 * back-propagated k₂ steps and the weights updated by gradient descent.
 * @returns the loss over the whole sequence after each epoch,
 * and the number of step-gradients computed (the cost).
 */
export function trainTbptt(
  p: SimpleRnnParams,
  xs: Float64Array[],
  targets: (Float64Array | undefined)[],
  o: TbpttOptions,
): { losses: number[]; backwardSteps: number } {
  if (!(o.k1 >= 1) || !(o.k2 >= 1))
    throw new Error(`trainTbptt: k1 and k2 must be at least 1, got ${o.k1} and ${o.k2}`);
  const losses: number[] = [];
  let backwardSteps = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    // entering[t]: the state carried into step t
    const entering: Float64Array[] = [new Float64Array(p.U.rows)];
    for (let chunk = 0; chunk < xs.length; chunk += o.k1) {
      const stop = Math.min(chunk + o.k1, xs.length);
      const from = Number.isFinite(o.k2) ? Math.max(0, chunk - o.k2 + 1) : 0;
      const chunkTargets = targets
        .slice(from, stop)
        .map((t, i) => (from + i >= chunk ? t : undefined));
      const { grads, trace } = rnnBptt(p, xs.slice(from, stop), chunkTargets, {
        truncate: o.k2,
        h0: entering[from],
      });
      for (let t = chunk; t < stop; t++) {
        entering[t + 1] = trace.h[t - from + 1];
        if (targets[t]) backwardSteps += Math.min(o.k2, t - from + 1);
      }
      applyGradients(p, grads, o.learningRate, o.clipNorm);
    }
    losses.push(sequenceLoss(p, xs, targets));
  }
  return { losses, backwardSteps };
}

/** L = ½ Σ_t ‖ŷ_t − y_t‖² over the steps with a target. */
export function sequenceLoss(
  p: SimpleRnnParams,
  xs: Float64Array[],
  targets: (Float64Array | undefined)[],
): number {
  const { y } = rnnForward(p, xs);
  return targets.reduce(
    (s, t, i) => (t ? s + 0.5 * t.reduce((q, v, j) => q + (y[i][j] - v) ** 2, 0) : s),
    0,
  );
}

function applyGradients(p: SimpleRnnParams, g: RnnGradients, lr: number, clipNorm?: number): void {
  const total = Math.sqrt(
    [g.W, g.U, g.b, g.V, g.c].reduce((s, a) => s + a.reduce((q, v) => q + v * v, 0), 0),
  );
  const scale = clipNorm && total > clipNorm ? clipNorm / total : 1;
  const step = (target: Float64Array, grad: Float64Array) =>
    grad.forEach((v, i) => (target[i] -= lr * scale * v));
  step(p.W.data, g.W);
  step(p.U.data, g.U);
  step(p.b, g.b);
  step(p.V.data, g.V);
  step(p.c, g.c);
}
