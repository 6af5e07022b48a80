import * as tf from "@tensorflow/tfjs";

/** Options of {@link sunspotRnn}. */
export interface SunspotRnnOptions {
  /** Recurrent cell (default `lstm`, as the book). */
  cell?: "lstm" | "gru";
  /** Units of the recurrent layer (default 4). */
  units?: number;
  /** Window length (default 15). */
  timesteps?: number;
  /** Fixed batch size of the stateful network (default 20). */
  batchSize?: number;
}

/**
 * The book's sunspot forecaster ("Keras 中的 LSTM 网络示例", recurrent.py): a stateful
 * LSTM(4) over windows of 15 months with a fixed batch of 20, then Dense(1) and tanh
 * (the series is scaled to (-1, 1)). Not compiled: the book uses Adam 1e-3, decay 1e-4, MSE.
 */
export function sunspotRnn(options: SunspotRnnOptions = {}): tf.Sequential {
  const { cell = "lstm", units = 4, timesteps = 15, batchSize = 20 } = options;
  const recurrent = (cell === "gru" ? tf.layers.gru : tf.layers.lstm)({ units, stateful: true, batchInputShape: [batchSize, timesteps, 1] });
  return tf.sequential({
    name: `sunspot_${cell}`,
    layers: [recurrent, tf.layers.dense({ units: 1 }), tf.layers.activation({ activation: "tanh" })],
  });
}
