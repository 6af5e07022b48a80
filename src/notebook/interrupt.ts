import * as tf from "@tensorflow/tfjs";
import { inspect } from "util";
import { currentCellWriter, inTslabKernel } from "./tslab";
import { denoJupyter } from "./deno-runtime";

/** Where training stood when it was stopped by an interrupt (1-based, finished batches). */
export interface StopPosition {
  epoch: number;
  epochs: number;
  batch: number;
  /** Batches per epoch, when known (`fitDataset` without `batchesPerEpoch` does not know). */
  batches?: number;
}

/**
 * What `model.fit`, `model.fitDataset`, `train` and `trainOnDataset` reject with when the kernel
 * is interrupted (JupyterLab's stop button) while they train: training stopped at a batch
 * boundary, the model keeps the weights of the last finished batch, and nothing keeps running.
 * A notebook prints only its one-line message, not a stack of library frames.
 */
export class TrainingInterrupted extends Error {
  /** Where training stopped. */
  declare readonly position: StopPosition;

  constructor(position: StopPosition, hint = "") {
    const batch = position.batches ? `${position.batch}/${position.batches}` : `${position.batch}`;
    super(
      `training stopped by interrupt at epoch ${position.epoch}/${position.epochs}, ` +
        `batch ${batch}; the model keeps the weights of the last finished batch${hint}`,
    );
    Object.defineProperty(this, "position", { value: position });
    // Deno's kernel shows an error's stack as its traceback: the sentence is the whole story there too
    Object.defineProperty(this, "stack", { value: `TrainingInterrupted: ${this.message}` });
  }

  override get name(): string {
    return "TrainingInterrupted";
  }

  /** tslab prints a failed cell's error with `console.error`: the sentence is the whole story. */
  [inspect.custom](): string {
    return this.message;
  }
}

/**
 * Fits in progress (nested `fit` calls, e.g. `train` → `model.fit` → inner model, count once
 * each).
 */
let running = 0;
/** Set by an interrupt while training runs; cleared when the last fit returns. */
let stopRequested = false;
/**
 * The tslab cell that was interrupted while nothing trained: training it starts later is
 * refused.
 */
let abandonedCell: unknown;

/**
 * Asks every training in progress to stop after its current batch, as the kernel's interrupt
 * does. Returns false (and does nothing) when nothing is training.
 */
export function requestTrainingStop(): boolean {
  if (running === 0) return false;
  stopRequested = true;
  return true;
}

/** Whether some `fit`/`fitDataset` is running now. */
export function trainingInProgress(): boolean {
  return running > 0;
}

type CallbackArg =
  tf.CustomCallbackArgs | tf.Callback | (tf.CustomCallbackArgs | tf.Callback)[] | undefined;
type EpochEnd = (epoch: number, logs?: tf.Logs) => Promise<void> | void;

/**
 * Watches one fit: after every batch it lets pending signals run (so an interrupt is seen at the
 * next batch boundary), and once a stop is requested sets `stopTraining`, so tfjs leaves its loop
 * cleanly (logs disposed, `onTrainEnd` called, history resolved).
 */
class StopOnRequest extends tf.Callback {
  private epoch = 0;
  stoppedAt: StopPosition | undefined;

  constructor(
    private readonly target: { stopTraining: boolean },
    private readonly epochs: number,
    private readonly batches: number | undefined,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number): Promise<void> {
    if (sigintHooked || denoWatch) await nextTurn();
    if (stopRequested && !this.stoppedAt) {
      this.stoppedAt = {
        epoch: this.epoch + 1,
        epochs: this.epochs,
        batch: batch + 1,
        batches: this.batches,
      };
      this.target.stopTraining = true;
    }
  }

  /**
   * The callbacks to train with: the caller's, whose `onEpochEnd` skips an epoch cut short by an
   * interrupt (no checkpoint, plateau step or epoch line for half an epoch), then this watch.
   * `restore` puts the caller's callbacks back as they were, for their next fit.
   */
  wrap(callbacks: CallbackArg): { callbacks: tf.Callback[]; restore: () => void } {
    const list = callbacks === undefined ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
    // tfjs takes either callback objects or plain configs, not a mix: configs become callbacks
    // here.
    const objects = list.map(
      (c) =>
        (c instanceof tf.Callback
          ? c
          : new tf.CustomCallback(c as tf.CustomCallbackArgs)) as unknown as tf.Callback,
    );
    const restores = objects.map((c) => this.skipCutEpoch(c));
    return { callbacks: [...objects, this], restore: () => restores.forEach((r) => r()) };
  }

  private skipCutEpoch(callback: tf.Callback): () => void {
    const own = callback as unknown as { onEpochEnd: EpochEnd };
    const hadOwn = Object.prototype.hasOwnProperty.call(own, "onEpochEnd");
    const original = own.onEpochEnd;
    own.onEpochEnd = (epoch, logs) =>
      this.stoppedAt ? undefined : original.call(callback, epoch, logs);
    return () => {
      if (hadOwn) own.onEpochEnd = original;
      else delete (own as Partial<typeof own>).onEpochEnd;
    };
  }

  /** Throws {@link TrainingInterrupted} when this fit was stopped. */
  check(): void {
    if (this.stoppedAt) throw new TrainingInterrupted(this.stoppedAt);
  }
}

/** Number of samples in fit's `x` (a tensor, an array of tensors, or a name → tensor map). */
function samplesOf(x: unknown): number | undefined {
  const first =
    x instanceof tf.Tensor
      ? x
      : Array.isArray(x)
        ? x[0]
        : x && typeof x === "object"
          ? Object.values(x)[0]
          : undefined;
  return first instanceof tf.Tensor ? first.shape[0] : undefined;
}

/** Whether the running tslab cell is one the kernel's interrupt abandoned. */
function inAbandonedCell(): boolean {
  return abandonedCell !== undefined && currentCellWriter() === abandonedCell;
}

/** Lets pending events (a signal's handler among them) run before going on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function watched<T>(
  model: { stopTraining: boolean },
  epochs: number,
  batches: number | undefined,
  callbacks: CallbackArg,
  fit: (callbacks: tf.Callback[]) => Promise<T>,
): Promise<T> {
  if (inAbandonedCell())
    throw new TrainingInterrupted(
      { epoch: 1, epochs, batch: 0, batches },
      " (the cell was interrupted before training began)",
    );
  if (sigintHooked) hookSigint();
  const watch = new StopOnRequest(model, epochs, batches);
  const wrapped = watch.wrap(callbacks);
  if (denoWatch && running === 0) process.on("SIGINT", onDenoInterrupt);
  running++;
  try {
    const result = await fit(wrapped.callbacks);
    watch.check();
    return result;
  } finally {
    wrapped.restore();
    if (--running === 0) {
      stopRequested = false;
      if (denoWatch) process.off("SIGINT", onDenoInterrupt);
    }
  }
}

let fitPatched = false;

/**
 * Makes every `LayersModel.fit` and `fitDataset` (a plain one in a cell, and those of `train`,
 * the experiment runners and the data-parallel path) stop at the next batch boundary when
 * {@link requestTrainingStop} is called, and then reject with {@link TrainingInterrupted}; and
 * makes `trainOnBatch` refuse to run in a cell that the kernel's interrupt abandoned. This
 * replaces the three methods on `tf.LayersModel.prototype`, so it is opt-in: `initBackend()`
 * installs it inside a tslab kernel only (`setUpKernel`), and a script that wants
 * {@link requestTrainingStop} calls it itself. Idempotent; costs nothing per batch unless a stop
 * is requested.
 */
export function stopTrainingOnRequest(): void {
  if (fitPatched) return;
  fitPatched = true;
  type Model = tf.LayersModel & { stopTraining: boolean };
  const proto = tf.LayersModel.prototype as unknown as {
    fit: (this: Model, x: unknown, y: unknown, args?: tf.ModelFitArgs) => Promise<tf.History>;
    fitDataset: (
      this: Model,
      data: unknown,
      args: tf.ModelFitDatasetArgs<unknown>,
    ) => Promise<tf.History>;
    trainOnBatch: (this: Model, x: unknown, y: unknown) => Promise<number | number[]>;
  };
  const fit = proto.fit,
    fitDataset = proto.fitDataset,
    trainOnBatch = proto.trainOnBatch;
  proto.fit = function (x, y, args = {}) {
    const n = samplesOf(x);
    const batches = n === undefined ? undefined : Math.ceil(n / (args.batchSize ?? 32));
    return watched(this, args.epochs ?? 1, batches, args.callbacks as CallbackArg, (callbacks) =>
      fit.call(this, x, y, { ...args, callbacks }),
    );
  };
  proto.fitDataset = function (data, args) {
    return watched(
      this,
      args.epochs,
      args.batchesPerEpoch,
      args.callbacks as CallbackArg,
      (callbacks) => fitDataset.call(this, data, { ...args, callbacks }),
    );
  };
  // A cell's own loop of `await model.trainOnBatch(...)` runs on promise jobs alone and would never
  // let the interrupt's signal handler run: in a kernel each step first lets pending events in (at
  // most every 100 ms), and once the kernel abandoned that cell its next step throws, so the loop
  // ends.
  let lastYield = 0;
  proto.trainOnBatch = async function (x, y) {
    if (sigintHooked) {
      if (Date.now() - lastYield > 100) {
        await nextTurn();
        lastYield = Date.now();
      }
      if (inAbandonedCell()) {
        throw new TrainingInterrupted(
          { epoch: 1, epochs: 1, batch: 0 },
          " (the cell was interrupted; its trainOnBatch loop ends here)",
        );
      }
    }
    return trainOnBatch.call(this, x, y);
  };
}

let sigintHooked = false;
/** The kernel's own SIGINT listeners (tslab's, which abandons the running cell). */
let kernelListeners: ((signal: string) => void)[] = [];

function onInterrupt(): void {
  if (!stopRequested && requestTrainingStop()) return;
  if (running === 0) abandonedCell = currentCellWriter();
  for (const listener of kernelListeners) listener.call(process, "SIGINT");
}

/**
 * Puts {@link onInterrupt} in front of the kernel's listeners. Deferred: while a cell's synchronous
 * part runs, Node's `vm` (tslab runs cells with `breakOnSigint`) takes every SIGINT listener away
 * and puts back, afterwards, those that were there before, so a listener changed then is lost.
 */
function hookSigint(): void {
  setImmediate(() => {
    const current = process.listeners("SIGINT") as ((signal: string) => void)[];
    if (current.length === 1 && current[0] === onInterrupt) return;
    kernelListeners = [
      ...kernelListeners,
      ...current.filter((l) => l !== onInterrupt && !kernelListeners.includes(l)),
    ];
    process.removeAllListeners("SIGINT");
    process.on("SIGINT", onInterrupt);
  });
}

/**
 * In Deno's kernel: SIGINT is listened to only while a fit runs ({@link watched} adds and removes
 * the listener), since a Deno process with a SIGINT listener no longer ends on SIGINT.
 */
let denoWatch = false;

/**
 * Deno's kernel, interrupted while training: the first interrupt asks the fit to stop; a second
 * one is Deno's own again (the listener is removed and the signal raised anew: the kernel ends).
 */
function onDenoInterrupt(): void {
  if (!stopRequested && requestTrainingStop()) return;
  process.off("SIGINT", onDenoInterrupt);
  process.kill(process.pid, "SIGINT");
}

/**
 * Inside a kernel, makes the kernel's interrupt (SIGINT, what JupyterLab's stop button sends)
 * stop training instead of abandoning it: while a fit runs, the first interrupt asks it to stop
 * after the current batch and the cell then fails with one line. A second interrupt, or one while
 * nothing trains, goes to the kernel as before: tslab abandons the cell (and any training that
 * cell would start later is refused); Deno's kernel ends (JupyterLab restarts it), as it does on
 * every interrupt without this. Does nothing outside a kernel.
 */
export function stopTrainingOnKernelInterrupt(): void {
  if (sigintHooked || denoWatch) return;
  if (inTslabKernel()) {
    sigintHooked = true;
    hookSigint();
  } else if (denoJupyter()) denoWatch = true;
}
