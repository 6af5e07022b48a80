import * as tf from "@tensorflow/tfjs";
import { History } from "../core/history";
import { NaNGuard } from "./nan-guard";
import { TrainingProgress } from "./progress";
import { ReleaseKeptStates } from "../rnn/stateful";
import { checkBatchFits } from "./memory";
import { DataParallel, ThreadPlan, planThreads } from "./parallel/data-parallel";
import { BackendInfo, BackendName, activeBackend } from "../backend/init";
import { raceWebGpuFailure } from "../backend/webgpu";

/**
 * Times each epoch, and resolves tfjs's History after each one: it keeps every epoch's metrics as
 * scalar tensors until training ends, so resolving them keeps `tf.memory().numTensors` flat.
 */
class EpochBookkeeping extends tf.Callback {
  readonly seconds: number[] = [];
  private start = 0;

  override async onEpochBegin(): Promise<void> {
    this.start = Date.now();
  }

  override async onEpochEnd(): Promise<void> {
    await (
      this.model as unknown as { history?: { syncData(): Promise<void> } }
    ).history?.syncData();
    this.seconds.push((Date.now() - this.start) / 1000);
  }
}

/** Options of {@link train}. */
export interface TrainOptions {
  /**
   * The backend to train on: what `initBackend()` returned (default: the active one). Checked
   * against tfjs's active backend, and handed to the thread plan, the memory guard and the workers.
   */
  backend?: BackendInfo;
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
  /** Epoch to start from when resuming (epochs already done); `epochs` is the total (default 0). */
  initialEpoch?: number;
  /**
   * Threads that compute each batch's gradients (data parallelism on the single-threaded `wasm`
   * and `cpu` backends): a number, or `auto` (default: the `CH10_THREADS` variable, else one per
   * core up to 4 when the batch has at least 32 rows per thread). See {@link planThreads}.
   */
  threads?: number | "auto";
}

/** Options of {@link trainOnDataset}: those of {@link train} plus the epoch length. */
export interface DatasetTrainOptions extends Omit<TrainOptions, "shuffle"> {
  /** Batches that make one epoch (the dataset may be endless, as an augmenting generator is). */
  batchesPerEpoch: number;
}

/** What a training run produced. */
export interface TrainResult {
  /** Metric name to one value per epoch (Keras's `history.history`). */
  history: History;
  /** Seconds per epoch. */
  epochSeconds: number[];
  /** Training throughput over the whole run. */
  samplesPerSecond: number;
  /** Threads that computed the gradients, and why that many. */
  threads: { count: number; reason: string };
}

/**
 * Keras-like training entry point used by the notebooks and the CLI: `model.fit` with a
 * NaN/Inf guard, the live view (notebook) or progress line (terminal), a plain-number history,
 * no tensor growth across batches and epochs (history resolved, stateful RNNs' old states freed),
 * and data-parallel threads on the wasm/cpu backends (see `threads`). The model must be compiled.
 */
export async function train(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: TrainOptions,
): Promise<TrainResult> {
  const samples = x.shape[0];
  if (y.shape[0] !== samples) throw new Error(`train: ${samples} inputs but ${y.shape[0]} targets`);
  return run(model, options, Math.ceil(samples / options.batchSize), samples, (callbacks) =>
    model.fit(x, y, {
      epochs: options.epochs,
      initialEpoch: options.initialEpoch,
      batchSize: options.batchSize,
      validationData: options.validationData,
      shuffle: options.shuffle ?? true,
      verbose: 0,
      callbacks,
    }),
  );
}

/**
 * {@link train} for data that comes as a dataset of `{xs, ys}` batches, such as
 * `ImageDataGenerator.flow` (Keras's `fit_generator`).
 */
export async function trainOnDataset(
  model: tf.LayersModel,
  data: tf.data.Dataset<tf.TensorContainer>,
  options: DatasetTrainOptions,
): Promise<TrainResult> {
  if (!(options.batchesPerEpoch >= 1))
    throw new Error(
      `trainOnDataset: batchesPerEpoch must be at least 1, got ${options.batchesPerEpoch}`,
    );
  return run(
    model,
    options,
    options.batchesPerEpoch,
    options.batchesPerEpoch * options.batchSize,
    (callbacks) =>
      model.fitDataset(data, {
        epochs: options.epochs,
        initialEpoch: options.initialEpoch,
        batchesPerEpoch: options.batchesPerEpoch,
        validationData: options.validationData,
        verbose: 0,
        callbacks,
      }),
  );
}

/**
 * Starts the data-parallel workers; if they cannot start (e.g. a layer class the worker cannot
 * rebuild), trains on one thread instead and says why on stderr.
 */
/**
 * Starts the data-parallel workers of `plan` on `backend`; when they cannot start, says why and
 * returns a one-thread plan instead (the planned one is left as it was).
 */
async function startParallel(
  model: tf.LayersModel,
  plan: ThreadPlan,
  batchSize: number,
  backend: BackendName,
): Promise<{ parallel?: DataParallel; plan: ThreadPlan }> {
  if (plan.threads === 1) return { plan };
  try {
    return { parallel: await DataParallel.start(model, plan.threads, batchSize, backend), plan };
  } catch (e) {
    const why = (e as Error).message;
    console.warn(`train: training on 1 thread instead of ${plan.threads}: ${why}`);
    return { plan: { threads: 1, reason: `worker threads failed to start (${why})` } };
  }
}

/**
 * The error a training run ends with when the WebGPU device fails: what happened, the batch size,
 * and what to try (a lost device is often the driver resetting a GPU that a step kept busy too
 * long).
 */
export function gpuTrainingError(e: Error, model: tf.LayersModel, batchSize: number): Error {
  const half = Math.max(1, Math.floor(batchSize / 2));
  const advice = /out of GPU memory/.test(e.message)
    ? "restart the kernel or process (the GPU's results are no longer trusted), " +
      `then use a smaller batch (batchSize: ${half}) or close other programs using the GPU`
    : `restart the kernel or process, then try a smaller batch (batchSize: ${half}) ` +
      "or another backend (CH10_BACKEND=tensorflow, wasm or cpu)";
  const what = `train: ${e.message} while training "${model.name}"`;
  return new Error(`${what} with batchSize ${batchSize} on webgpu; ${advice}`);
}

async function run(
  model: tf.LayersModel,
  options: TrainOptions,
  batchesPerEpoch: number,
  samplesPerEpoch: number,
  fit: (callbacks: tf.Callback[]) => Promise<tf.History>,
): Promise<TrainResult> {
  if (!model.optimizer)
    throw new Error("train: compile the model first (model.compile({ optimizer, loss, metrics }))");
  const initialEpoch = options.initialEpoch ?? 0;
  if (!(initialEpoch >= 0 && initialEpoch <= options.epochs))
    throw new Error(`train: initialEpoch ${initialEpoch} is outside 0..epochs (${options.epochs})`);
  const batch = Math.min(options.batchSize, samplesPerEpoch);
  const backend = activeBackend(options.backend);
  const planned = planThreads(model, batch, options.threads, backend);
  if (planned.cut) console.warn(planned.cut);
  checkBatchFits(model, batch, backend, planned.threads);
  const started = Date.now();
  const { parallel, plan } = await startParallel(model, planned, options.batchSize, backend);
  // after a fallback to one thread, the whole batch is on one heap
  if (plan !== planned) checkBatchFits(model, batch, backend, 1);
  const progress = new TrainingProgress({
    batchesPerEpoch,
    epochs: options.epochs,
    batchSize: options.batchSize,
    title: options.title,
    threads: plan.threads,
  });
  const bookkeeping = new EpochBookkeeping();
  const callbacks = [
    new NaNGuard(),
    bookkeeping,
    new ReleaseKeptStates(),
    ...(options.progress === false ? [] : [progress]),
    ...(options.callbacks ?? []),
  ];
  let h: tf.History;
  try {
    const fitting = fit(callbacks);
    h =
      backend === "webgpu"
        ? await raceWebGpuFailure(fitting, (e) => gpuTrainingError(e, model, options.batchSize))
        : await fitting;
  } finally {
    await parallel?.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const history: History = {};
  for (const [k, v] of Object.entries(h.history))
    history[k] = (v as (number | tf.Tensor)[]).map((e) =>
      typeof e === "number" ? e : e.dataSync()[0],
    );
  return {
    history,
    epochSeconds: bookkeeping.seconds,
    samplesPerSecond: (samplesPerEpoch * (options.epochs - initialEpoch)) / Math.max(seconds, 1e-9),
    threads: { count: plan.threads, reason: plan.reason },
  };
}
