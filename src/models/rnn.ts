import * as tf from "@tensorflow/tfjs";
import { fusedRecurrent } from "../rnn/fused-layer";
import { KERAS_KERNEL_INITIALIZER } from "./keras-defaults";

/** Options of {@link sunspotRnn}. */
export interface SunspotRnnOptions {
  /** Recurrent cell (default `lstm`, as the book). */
  cell?: "lstm" | "gru";
  /** Units of each recurrent layer (default 4). */
  units?: number;
  /** Window length (default 15). */
  timesteps?: number;
  /** Fixed batch size of the stateful network (default 20). */
  batchSize?: number;
  /**
   * Carry the state from one batch to the next (default true,
   * as the book); false: every window starts from zero state.
   */
  stateful?: boolean;
  /**
   * Two recurrent layers, the first returning its whole
   * sequence (`returnSequences`), instead of one.
   */
  stacked?: boolean;
  /**
   * `fused` (default): {@link FusedRecurrent}, one operation per call, ~9x faster for this tiny
   * network on wasm/cpu; `layers`: tfjs's `tf.layers.lstm` / `gru` (same equations and weights).
   */
  implementation?: "fused" | "layers";
}

/**
 * The book's sunspot forecaster ("Keras 中的 LSTM 网络示例", recurrent.py): a stateful
 * LSTM(4) over windows of 15 months with a fixed batch of 20, then Dense(1) and tanh (the series is
 * scaled to (-1, 1)). Not compiled: the book uses Adam 1e-3, decay 1e-4, MSE. Keras 2's defaults
 * throughout, as the book's script ran (see {@link KERAS2_DEFAULTS}): hard-sigmoid gates of slope
 * 0.2, Glorot-uniform kernels, orthogonal recurrent kernel, forget-gate bias 1.
 */
export function sunspotRnn(options: SunspotRnnOptions = {}): tf.Sequential {
  const {
    cell = "lstm",
    units = 4,
    timesteps = 15,
    batchSize = 20,
    stateful = true,
    stacked = false,
    implementation = "fused",
  } = options;
  const make = (args: {
    units: number;
    stateful: boolean;
    returnSequences?: boolean;
    batchInputShape?: number[];
    inputShape?: number[];
  }): tf.layers.Layer =>
    implementation === "fused"
      ? fusedRecurrent({ cell, ...args, unitForgetBias: cell === "lstm" })
      : cell === "gru"
        ? tf.layers.gru({ ...args, kernelInitializer: KERAS_KERNEL_INITIALIZER })
        : tf.layers.lstm({
            ...args,
            kernelInitializer: KERAS_KERNEL_INITIALIZER,
            unitForgetBias: true,
          });
  const shape = stateful
    ? { batchInputShape: [batchSize, timesteps, 1] }
    : { inputShape: [timesteps, 1] };
  const recurrent = stacked
    ? [make({ units, stateful, returnSequences: true, ...shape }), make({ units, stateful })]
    : [make({ units, stateful, ...shape })];
  return tf.sequential({
    name: `sunspot_${cell}${stacked ? "_stacked" : ""}`,
    layers: [
      ...recurrent,
      tf.layers.dense({ units: 1, kernelInitializer: KERAS_KERNEL_INITIALIZER }),
      tf.layers.activation({ activation: "tanh" }),
    ],
  });
}
