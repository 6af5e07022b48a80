import * as tf from "@tensorflow/tfjs";
import { History } from "../viz/charts";
import { NaNGuard } from "./nan-guard";
import { TrainingProgress } from "./progress";

/**
 * tfjs's History keeps every epoch's metrics as scalar tensors until training ends; resolving them
 * after each epoch keeps `tf.memory().numTensors` flat across epochs (and frees them early).
 */
class ResolveHistory extends tf.Callback {
  override async onEpochEnd(): Promise<void> {
    await (this.model as unknown as { history?: { syncData(): Promise<void> } }).history?.syncData();
  }
}

/** Options of {@link train}. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Data for `val_*` metrics after each epoch. */
  validationData?: [tf.Tensor, tf.Tensor];
  /** Extra Keras-style callbacks (e.g. ReduceLROnPlateau, a checkpoint saver). */
  callbacks?: tf.Callback[];
  /** Reshuffle the training data every epoch (default true). */
  shuffle?: boolean;
  /** Show the live view / progress line (default true). */
  progress?: boolean;
  /** Title of the live chart. */
  title?: string;
}

/** What a training run produced. */
export interface TrainResult {
  /** Metric name to one value per epoch (Keras's `history.history`). */
  history: History;
  /** Seconds per epoch. */
  epochSeconds: number[];
  /** Training throughput over the whole run. */
  samplesPerSecond: number;
}

/**
 * Keras-like training entry point used by the notebooks and the CLI: `model.fit` with a
 * NaN/Inf guard, the live view (notebook) or progress line (terminal), and a plain-number history.
 * The model must be compiled.
 */
export async function train(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, options: TrainOptions): Promise<TrainResult> {
  if (!model.optimizer) throw new Error("train: compile the model first (model.compile({ optimizer, loss, metrics }))");
  const samples = x.shape[0];
  if (y.shape[0] !== samples) throw new Error(`train: ${samples} inputs but ${y.shape[0]} targets`);
  const progress = new TrainingProgress({ batchesPerEpoch: Math.ceil(samples / options.batchSize), epochs: options.epochs, batchSize: options.batchSize, title: options.title });
  const callbacks = [new NaNGuard(), new ResolveHistory(), ...(options.progress === false ? [] : [progress]), ...(options.callbacks ?? [])];
  const started = Date.now();
  const h = await model.fit(x, y, {
    epochs: options.epochs,
    batchSize: options.batchSize,
    validationData: options.validationData,
    shuffle: options.shuffle ?? true,
    verbose: 0,
    callbacks,
  });
  const seconds = (Date.now() - started) / 1000;
  const history: History = {};
  for (const [k, v] of Object.entries(h.history)) history[k] = (v as (number | tf.Tensor)[]).map((e) => (typeof e === "number" ? e : e.dataSync()[0]));
  return { history, epochSeconds: progress.epochSeconds, samplesPerSecond: (samples * options.epochs) / seconds };
}
