import { GateActivation } from "./cells";

/** Shapes of a fused recurrent pass: batch, time steps, input features, units. */
export interface RecurrentDims {
  batch: number;
  steps: number;
  inputs: number;
  units: number;
}

/**
 * Weights in the tfjs/Keras layout (see RecurrentWeights): kernel
 * `inputs x G·units`, recurrent `units x G·units`, bias `G·units`.
 */
export interface FusedWeights {
  kernel: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array;
}

/**
 * A gate activation and its derivative: the logistic sigmoid,
 * or Keras 2's / tfjs's hard sigmoid clip(0.2·x + 0.5, 0, 1).
 */
export const gateFunction = (kind: GateActivation) =>
  kind === "sigmoid"
    ? {
        f: (x: number) => 1 / (1 + Math.exp(-x)),
        df: (x: number) => {
          const s = 1 / (1 + Math.exp(-x));
          return s * (1 - s);
        },
      }
    : {
        f: (x: number) => Math.min(1, Math.max(0, 0.2 * x + 0.5)),
        df: (x: number) => (x > -2.5 && x < 2.5 ? 0.2 : 0),
      };

/** pre[b, :] = bias + x_t[b]·K + h[b]·R for G gates (row-major, as the layers store them). */
function preActivations(
  d: RecurrentDims,
  gates: number,
  w: FusedWeights,
  x: Float32Array,
  t: number,
  h: Float32Array,
  out: Float64Array,
  recurrentCols = gates,
): void {
  const cols = gates * d.units;
  for (let b = 0; b < d.batch; b++) {
    const row = out.subarray(b * cols, (b + 1) * cols);
    row.set(w.bias);
    const xo = (b * d.steps + t) * d.inputs;
    for (let k = 0; k < d.inputs; k++) {
      const v = x[xo + k];
      if (v === 0) continue;
      for (let j = 0; j < cols; j++) row[j] += v * w.kernel[k * cols + j];
    }
    for (let k = 0; k < d.units; k++) {
      const v = h[b * d.units + k];
      if (v === 0) continue;
      for (let j = 0; j < recurrentCols * d.units; j++) row[j] += v * w.recurrent[k * cols + j];
    }
  }
}

/** What the LSTM forward pass keeps for the backward pass. */
export interface LstmTrace {
  /** h_t for every step, `[batch, steps, units]`. */
  h: Float32Array;
  /** c_t for every step. */
  c: Float32Array;
  /** Pre-activations of the 4 gates for every step, `[steps, batch, 4·units]`. */
  pre: Float64Array;
  h0: Float32Array;
  c0: Float32Array;
}

/** The LSTM over a whole sequence at once (equations as lstmStep; gate order i, f, c, o). */
export function lstmForward(
  d: RecurrentDims,
  w: FusedWeights,
  x: Float32Array,
  h0: Float32Array,
  c0: Float32Array,
  gate: GateActivation,
): LstmTrace {
  const { batch: B, steps: T, units: U } = d;
  const sigma = gateFunction(gate).f;
  const h = new Float32Array(B * T * U),
    c = new Float32Array(B * T * U),
    pre = new Float64Array(T * B * 4 * U);
  let hPrev = h0,
    cPrev = c0;
  for (let t = 0; t < T; t++) {
    const z = pre.subarray(t * B * 4 * U, (t + 1) * B * 4 * U);
    preActivations(d, 4, w, x, t, hPrev, z);
    const hNow = new Float32Array(B * U),
      cNow = new Float32Array(B * U);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < U; j++) {
        const o = b * 4 * U;
        const i = sigma(z[o + j]),
          f = sigma(z[o + U + j]),
          g = Math.tanh(z[o + 2 * U + j]),
          og = sigma(z[o + 3 * U + j]);
        const cv = f * cPrev[b * U + j] + i * g;
        cNow[b * U + j] = cv;
        hNow[b * U + j] = og * Math.tanh(cv);
        c[(b * T + t) * U + j] = cv;
        h[(b * T + t) * U + j] = hNow[b * U + j];
      }
    }
    hPrev = hNow;
    cPrev = cNow;
  }
  return { h, c, pre, h0, c0 };
}

/** Gradients of a fused pass with respect to its inputs. */
export interface FusedGradients {
  dx: Float32Array;
  dKernel: Float32Array;
  dRecurrent: Float32Array;
  dBias: Float32Array;
  dh0: Float32Array;
}

/**
 * Adds x_t^T·dz to dK, h^T·dz to dR, dz to dBias, and returns
 * dz·K^T into dx and dz·R^T (first `recurrentCols` gates) into dh.
 */
function accumulate(
  d: RecurrentDims,
  gates: number,
  w: FusedWeights,
  x: Float32Array,
  t: number,
  hPrev: Float32Array,
  dz: Float64Array,
  g: FusedGradients,
  dhPrev: Float64Array,
  recurrentCols = gates,
): void {
  const cols = gates * d.units,
    rc = recurrentCols * d.units;
  for (let b = 0; b < d.batch; b++) {
    const row = dz.subarray(b * cols, (b + 1) * cols);
    const xo = (b * d.steps + t) * d.inputs;
    for (let j = 0; j < cols; j++) g.dBias[j] += row[j];
    for (let k = 0; k < d.inputs; k++) {
      const v = x[xo + k];
      let s = 0;
      for (let j = 0; j < cols; j++) {
        g.dKernel[k * cols + j] += v * row[j];
        s += row[j] * w.kernel[k * cols + j];
      }
      g.dx[xo + k] += s;
    }
    for (let k = 0; k < d.units; k++) {
      const v = hPrev[b * d.units + k];
      let s = 0;
      for (let j = 0; j < rc; j++) {
        g.dRecurrent[k * cols + j] += v * row[j];
        s += row[j] * w.recurrent[k * cols + j];
      }
      dhPrev[b * d.units + k] += s;
    }
  }
}

/**
 * Back-propagation through time for {@link lstmForward}; `dh`
 * is the gradient of the loss with respect to every h_t.
 */
export function lstmBackward(
  d: RecurrentDims,
  w: FusedWeights,
  x: Float32Array,
  trace: LstmTrace,
  dh: Float32Array,
  gate: GateActivation,
): FusedGradients & { dc0: Float32Array } {
  const { batch: B, steps: T, units: U } = d;
  const { f: sigma, df: dsigma } = gateFunction(gate);
  const g: FusedGradients = {
    dx: new Float32Array(x.length),
    dKernel: new Float32Array(w.kernel.length),
    dRecurrent: new Float32Array(w.recurrent.length),
    dBias: new Float32Array(w.bias.length),
    dh0: new Float32Array(B * U),
  };
  let dhNext = new Float64Array(B * U),
    dcNext = new Float64Array(B * U);
  const dz = new Float64Array(B * 4 * U);
  const stateAt = (src: Float32Array, first: Float32Array, t: number) =>
    t < 0
      ? first
      : Float32Array.from(
          { length: B * U },
          (_, k) => src[(Math.floor(k / U) * T + t) * U + (k % U)],
        );
  for (let t = T - 1; t >= 0; t--) {
    const z = trace.pre.subarray(t * B * 4 * U, (t + 1) * B * 4 * U);
    const cPrev = stateAt(trace.c, trace.c0, t - 1),
      hPrev = stateAt(trace.h, trace.h0, t - 1);
    const dhPrev = new Float64Array(B * U),
      dcPrev = new Float64Array(B * U);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < U; j++) {
        const o = b * 4 * U,
          s = b * U + j;
        const zi = z[o + j],
          zf = z[o + U + j],
          zg = z[o + 2 * U + j],
          zo = z[o + 3 * U + j];
        const i = sigma(zi),
          f = sigma(zf),
          gg = Math.tanh(zg),
          og = sigma(zo);
        const cv = trace.c[(b * T + t) * U + j],
          tc = Math.tanh(cv);
        const dht = dh[(b * T + t) * U + j] + dhNext[s];
        const dct = dcNext[s] + dht * og * (1 - tc * tc);
        dz[o + j] = dct * gg * dsigma(zi);
        dz[o + U + j] = dct * cPrev[s] * dsigma(zf);
        dz[o + 2 * U + j] = dct * i * (1 - gg * gg);
        dz[o + 3 * U + j] = dht * tc * dsigma(zo);
        dcPrev[s] = dct * f;
      }
    }
    accumulate(d, 4, w, x, t, hPrev, dz, g, dhPrev);
    dhNext = dhPrev;
    dcNext = dcPrev;
  }
  g.dh0 = Float32Array.from(dhNext);
  return { ...g, dc0: Float32Array.from(dcNext) };
}

/** What the GRU forward pass keeps for the backward pass. */
export interface GruTrace {
  h: Float32Array;
  /**
   * Input part x·K + bias of the 3 gates per step, `[steps, batch, 3·units]`,
   * and the recurrent parts of z and r (h·R), and of ĥ ((r⊙h)·R_h).
   */
  xPart: Float64Array;
  hPart: Float64Array;
  h0: Float32Array;
}

/** The GRU (reset before U_h, as tfjs; gate order z, r, h) over a whole sequence. */
export function gruForward(
  d: RecurrentDims,
  w: FusedWeights,
  x: Float32Array,
  h0: Float32Array,
  gate: GateActivation,
): GruTrace {
  const { batch: B, steps: T, units: U } = d;
  const sigma = gateFunction(gate).f;
  const h = new Float32Array(B * T * U),
    xPart = new Float64Array(T * B * 3 * U),
    hPart = new Float64Array(T * B * 3 * U);
  const zero = new Float32Array(B * U);
  let hPrev = h0;
  for (let t = 0; t < T; t++) {
    const xp = xPart.subarray(t * B * 3 * U, (t + 1) * B * 3 * U),
      hp = hPart.subarray(t * B * 3 * U, (t + 1) * B * 3 * U);
    preActivations(d, 3, w, x, t, zero, xp);
    preActivations(
      d,
      3,
      { ...w, bias: new Float32Array(3 * U), kernel: new Float32Array(w.kernel.length) },
      x,
      t,
      hPrev,
      hp,
      2,
    );
    const hNow = new Float32Array(B * U);
    for (let b = 0; b < B; b++) {
      const o = b * 3 * U;
      const r = Float64Array.from({ length: U }, (_, j) => sigma(xp[o + U + j] + hp[o + U + j]));
      for (let j = 0; j < U; j++) {
        let a = 0;
        for (let k = 0; k < U; k++)
          a += r[k] * hPrev[b * U + k] * w.recurrent[k * 3 * U + 2 * U + j];
        hp[o + 2 * U + j] = a;
      }
      for (let j = 0; j < U; j++) {
        const z = sigma(xp[o + j] + hp[o + j]),
          hh = Math.tanh(xp[o + 2 * U + j] + hp[o + 2 * U + j]);
        hNow[b * U + j] = z * hPrev[b * U + j] + (1 - z) * hh;
        h[(b * T + t) * U + j] = hNow[b * U + j];
      }
    }
    hPrev = hNow;
  }
  return { h, xPart, hPart, h0 };
}

/** Back-propagation through time for {@link gruForward}. */
export function gruBackward(
  d: RecurrentDims,
  w: FusedWeights,
  x: Float32Array,
  trace: GruTrace,
  dh: Float32Array,
  gate: GateActivation,
): FusedGradients {
  const { batch: B, steps: T, units: U } = d;
  const { f: sigma, df: dsigma } = gateFunction(gate);
  const g: FusedGradients = {
    dx: new Float32Array(x.length),
    dKernel: new Float32Array(w.kernel.length),
    dRecurrent: new Float32Array(w.recurrent.length),
    dBias: new Float32Array(w.bias.length),
    dh0: new Float32Array(B * U),
  };
  let dhNext = new Float64Array(B * U);
  const dz = new Float64Array(B * 3 * U);
  const stateAt = (t: number) =>
    t < 0
      ? trace.h0
      : Float32Array.from(
          { length: B * U },
          (_, k) => trace.h[(Math.floor(k / U) * T + t) * U + (k % U)],
        );
  for (let t = T - 1; t >= 0; t--) {
    const xp = trace.xPart.subarray(t * B * 3 * U, (t + 1) * B * 3 * U),
      hp = trace.hPart.subarray(t * B * 3 * U, (t + 1) * B * 3 * U);
    const hPrev = stateAt(t - 1);
    const dhPrev = new Float64Array(B * U);
    for (let b = 0; b < B; b++) {
      const o = b * 3 * U;
      const r = Float64Array.from({ length: U }, (_, j) => sigma(xp[o + U + j] + hp[o + U + j]));
      const dRh = new Float64Array(U);
      for (let j = 0; j < U; j++) {
        const s = b * U + j;
        const zPre = xp[o + j] + hp[o + j],
          z = sigma(zPre),
          hh = Math.tanh(xp[o + 2 * U + j] + hp[o + 2 * U + j]);
        const dht = dh[(b * T + t) * U + j] + dhNext[s];
        dhPrev[s] += dht * z;
        dz[o + j] = dht * (hPrev[s] - hh) * dsigma(zPre);
        const da = dht * (1 - z) * (1 - hh * hh);
        dz[o + 2 * U + j] = da;
        for (let k = 0; k < U; k++) {
          g.dRecurrent[k * 3 * U + 2 * U + j] += r[k] * hPrev[b * U + k] * da;
          dRh[k] += da * w.recurrent[k * 3 * U + 2 * U + j];
        }
      }
      for (let k = 0; k < U; k++) {
        dhPrev[b * U + k] += dRh[k] * r[k];
        dz[o + U + k] = dRh[k] * hPrev[b * U + k] * dsigma(xp[o + U + k] + hp[o + U + k]);
      }
    }
    // z and r: their recurrent products use h directly; ĥ's recurrent part was handled above.
    accumulate(d, 3, w, x, t, hPrev, dz, g, dhPrev, 2);
    dhNext = dhPrev;
  }
  g.dh0 = Float32Array.from(dhNext);
  return g;
}
