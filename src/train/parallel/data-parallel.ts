import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";
import * as tf from "@tensorflow/tfjs";
import { BackendName } from "../../backend/init";
import {
  COMMAND_EXIT,
  COMMAND_STEP,
  Channel,
  ChannelLayout,
  SLOT,
  WeightBoard,
  channel,
  readError,
  weightBoard,
  writeShape,
} from "./protocol";
import {
  ShardStep,
  floatCount,
  nonTrainableVariables,
  packVariables,
  shardStep,
  trainableVariables,
  trainingCore,
  unpack,
} from "./shard";
import type { WorkerSetup } from "./worker";
import { estimateTrainingBytes } from "../memory";

/**
 * The environment variable that sets the number of training
 * threads (`auto`, or a number; `1` turns data parallelism off).
 */
export const THREADS_ENV = "CH10_THREADS";
/** Smallest shard worth a thread of its own in `auto` mode. */
const MIN_SHARD_ROWS = 32;
/** Most threads `auto` uses: each wasm instance may grow to 4 GiB. */
const MAX_AUTO_THREADS = 4;
/** A worker that has not finished its shard after this long is considered lost. */
const STEP_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 120_000;

/** How many threads a training run uses, and why. */
export interface ThreadPlan {
  threads: number;
  reason: string;
  /** Set when an explicit request was cut to fit the cores, the batch or the memory: says how. */
  cut?: string;
}

/** The compile arguments a worker can rebuild, or why they cannot be sent to it. */
function transferableCompile(model: tf.LayersModel): { loss: string; metrics: string[] } | string {
  const loss = Array.isArray(model.loss) && model.loss.length === 1 ? model.loss[0] : model.loss;
  if (typeof loss !== "string") return "a custom loss function cannot be sent to a worker thread";
  const metrics = (model as unknown as { metrics?: unknown }).metrics ?? [];
  const list = Array.isArray(metrics) ? metrics : [metrics];
  if (!list.every((m) => typeof m === "string"))
    return "a custom metric function cannot be sent to a worker thread";
  return { loss, metrics: list as string[] };
}

/** Why the model cannot be trained data-parallel, or undefined when it can. */
function unsuitable(model: tf.LayersModel): string | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    return "the model has several inputs or outputs";
  if (model.layers.some((l) => (l as unknown as { stateful?: boolean }).stateful))
    return "a stateful RNN needs each batch whole, in order";
  const shapes = [model.inputs[0].shape, model.outputs[0].shape];
  if (shapes.some((s) => s.slice(1).some((d) => d == null)))
    return "the model's input or output shape is not fully defined";
  const compile = transferableCompile(model);
  return typeof compile === "string" ? compile : undefined;
}

/** Share of the machine's memory that the threads' estimated peaks may take together. */
const MEMORY_FRACTION = 0.75;

/** The memory this process may use: the cgroup limit where Node knows one, else the machine's. */
function memoryLimitBytes(): number {
  const constrained = (
    process as { constrainedMemory?: () => number | undefined }
  ).constrainedMemory?.();
  return Math.min(os.totalmem(), constrained && constrained > 0 ? constrained : Infinity);
}

/**
 * The most threads (up to `wanted`) whose estimated training peaks, one shard of the batch each
 * with its own copy of the runtime and the weights ({@link estimateTrainingBytes}), fit together
 * in {@link MEMORY_FRACTION} of `limitBytes`.
 */
export function threadsThatFit(
  model: tf.LayersModel,
  batchSize: number,
  wanted: number,
  limitBytes = memoryLimitBytes(),
): number {
  let n = Math.max(1, wanted);
  while (
    n > 1 &&
    n * estimateTrainingBytes(model, Math.ceil(batchSize / n)) > MEMORY_FRACTION * limitBytes
  )
    n--;
  return n;
}

/** `raw` as a thread count (`undefined` for `auto`), accepting decimal whole numbers only. */
function parseThreads(raw: number | string): number | undefined {
  if (raw === "auto" || raw === "") return undefined;
  const n = typeof raw === "number" ? raw : /^\s*[0-9]+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new Error(
      `train: threads must be a whole number >= 1 or "auto" ` +
        `(from option or ${THREADS_ENV}), got "${raw}"`,
    );
  }
  return n;
}

/**
 * Decides how many threads train a model data-parallel: the `wasm` and `cpu` backends compute on
 * one thread per instance in Node, so each extra thread is a worker with its own instance that
 * computes the gradients of a slice of every batch. `requested` is a number of threads or `auto`
 * (default: the `CH10_THREADS` variable, else `auto`: one per core, up to 4, each shard at least
 * 32 rows). Every plan is bounded by the cores, the batch's rows and the memory the threads'
 * estimated peaks need together ({@link threadsThatFit}); a request that was cut says so in
 * {@link ThreadPlan.cut}.
 */
export function planThreads(
  model: tf.LayersModel,
  batchSize: number,
  requested?: number | "auto",
  backend = tf.getBackend(),
  limitBytes = memoryLimitBytes(),
): ThreadPlan {
  const source = requested !== undefined ? "the threads option" : THREADS_ENV;
  const raw = requested ?? process.env[THREADS_ENV] ?? "auto";
  const explicit = parseThreads(raw);
  if (explicit === 1) return { threads: 1, reason: "1 thread requested" };
  if (backend !== "wasm" && backend !== "cpu")
    return { threads: 1, reason: `the ${backend} backend runs its own threads` };
  const why = unsuitable(model);
  if (why) return { threads: 1, reason: why };
  const cores =
    typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  if (explicit !== undefined) {
    const bounds: [number, string][] = [
      [cores, `${cores} core(s)`],
      [batchSize, `a batch of ${batchSize} rows`],
    ];
    const byCores = Math.min(explicit, cores, batchSize);
    const byMemory = threadsThatFit(model, batchSize, byCores, limitBytes);
    bounds.push([byMemory, `${(limitBytes / 1024 ** 3).toFixed(0)} GiB of memory`]);
    const threads = Math.min(byCores, byMemory);
    if (threads === explicit) return { threads, reason: "requested" };
    const limits = bounds.filter(([n]) => n === threads).map(([, what]) => what);
    const cut =
      `train: ${source} asks for ${explicit} threads; using ${threads} ` +
      `(the most that ${limits.join(" and ")} allow${limits.length > 1 ? "" : "s"})`;
    return { threads, reason: `requested ${explicit}, cut to ${threads}`, cut };
  }
  const wanted = Math.min(cores, MAX_AUTO_THREADS, Math.floor(batchSize / MIN_SHARD_ROWS));
  const threads = wanted < 2 ? 1 : threadsThatFit(model, batchSize, wanted, limitBytes);
  if (wanted < 2)
    return {
      threads: 1,
      reason:
        cores < 2
          ? "one core"
          : `a batch of ${batchSize} is too small to split ` +
            `(${MIN_SHARD_ROWS} rows per thread at least)`,
    };
  if (threads < wanted)
    return { threads, reason: `${wanted} would not fit in memory together; ${cores} cores` };
  return { threads, reason: `${backend} computes on one thread per instance; ${cores} cores` };
}

interface WorkerHandle {
  worker: Worker;
  ch: Channel;
}

type TrainFunction = (data: tf.Tensor[]) => tf.Scalar[];

/**
 * Synchronous data-parallel training behind tfjs's own `fit`/`fitDataset`/`trainOnBatch`: while
 * installed, the model's training step splits each batch between the main thread and worker
 * threads (each with its own backend instance and a copy of the model), averages their gradients
 * weighted by shard size, applies them once with the model's optimizer on the main thread, and
 * publishes the new weights for the next step. The result equals single-threaded training up to
 * float rounding, except that dropout masks come from each thread's generator and BatchNorm
 * normalises each shard with its own statistics (as Keras's MirroredStrategy does); the moving
 * statistics are averaged over the shards.
 */
export class DataParallel {
  private original?: TrainFunction;
  private closed = false;

  private constructor(
    private readonly model: tf.LayersModel,
    private readonly workers: WorkerHandle[],
    private readonly board: WeightBoard,
  ) {}

  /** Threads in use (main thread included). */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `threads - 1` workers for `model` (compiled) on `backend` and installs the parallel
   * step; batches up to `batchSize` rows. Call {@link close} when training ends.
   */
  static async start(
    model: tf.LayersModel,
    threads: number,
    batchSize: number,
    backend: BackendName,
  ): Promise<DataParallel> {
    const compile = transferableCompile(model);
    if (typeof compile === "string") throw new Error(`data-parallel training: ${compile}`);
    const trainable = trainableVariables(model);
    const others = nonTrainableVariables(model);
    const perRow = (shape: (number | null)[]) =>
      shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
    const layout: ChannelLayout = {
      maxRows: Math.ceil(batchSize / threads),
      inputPerRow: perRow(model.inputs[0].shape),
      targetPerRow: perRow(model.outputs[0].shape),
      trainable: floatCount(trainable),
      nonTrainable: floatCount(others),
      outputs: 1 + compile.metrics.length,
    };
    const board = weightBoard(layout.trainable + layout.nonTrainable);
    const topology = model.toJSON(undefined, false) as object;
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, async () => {
        const ch = channel(layout);
        const setup: WorkerSetup = {
          backend,
          seed: Math.floor(Math.random() * 2 ** 31),
          topology,
          ...compile,
          layout,
          channel: ch.buffer,
          board: board.buffer,
        };
        return { worker: await startWorker(setup), ch };
      }),
    );
    const handles = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failure = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) {
      await Promise.all(handles.map(({ worker }) => worker.terminate()));
      throw new Error(
        "data-parallel training: a worker failed to start: " +
          ((failure.reason as Error)?.message ?? failure.reason),
      );
    }
    const dp = new DataParallel(model, handles, board);
    dp.publishWeights();
    dp.install();
    return dp;
  }

  private install(): void {
    const m = trainingCore(this.model) as unknown as { makeTrainFunction(): TrainFunction };
    this.original = m.makeTrainFunction();
    m.makeTrainFunction = () => (data) => this.step(data);
  }

  /** Stops the workers and gives the model back its own training step. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    delete (trainingCore(this.model) as unknown as { makeTrainFunction?: unknown })
      .makeTrainFunction;
    for (const { ch } of this.workers) this.command(ch, COMMAND_EXIT);
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  /**
   * Rows of each shard of an n-row batch: the main thread first; workers
   * take the remainder (the main thread also applies the update).
   */
  private split(n: number): number[] {
    const base = Math.floor(n / this.threads);
    const extra = n - base * this.threads;
    return [base, ...this.workers.map((_, i) => base + (i < extra ? 1 : 0))];
  }

  private step(data: tf.Tensor[]): tf.Scalar[] {
    // fit passes one (usually empty) sample-weight slot per output
    const [x, y, ...sampleWeights] = data;
    if (sampleWeights.some((w) => w != null) || x.shape[0] < this.threads)
      return this.original!(data); // weighted samples, or a batch too small to split
    const n = x.shape[0];
    const sizes = this.split(n);
    let offset = sizes[0];
    this.workers.forEach(({ ch }, i) => {
      this.send(ch, x, y, offset, sizes[i + 1]);
      offset += sizes[i + 1];
    });
    let mine: ShardStep;
    try {
      // tidy keeps the tensors of the returned object
      mine = tf.tidy(
        () =>
          shardStep(
            this.model,
            tf.slice(x, 0, sizes[0]),
            tf.slice(y, 0, sizes[0]),
          ) as unknown as tf.TensorContainer,
      ) as unknown as ShardStep;
    } finally {
      this.workers.forEach(({ ch }, i) => this.wait(ch, i + 1));
    }
    const result = tf.tidy(() =>
      this.combine(
        mine,
        sizes.map((s) => s / n),
      ),
    );
    tf.dispose([mine.loss, ...mine.metrics, ...mine.grads]);
    this.publishWeights();
    return result;
  }

  /**
   * Averages the shards' results (weights = shard fractions),
   * applies the gradients, merges the moving statistics.
   */
  private combine(mine: ShardStep, fractions: number[]): tf.Scalar[] {
    const trainable = trainableVariables(this.model);
    const others = nonTrainableVariables(this.model);
    const weighted = (
      own: tf.Tensor[],
      theirs: (ch: Channel) => Float32Array,
      shapes: { shape: number[] }[],
    ) => {
      let sums = own.map((t) => tf.mul(t, fractions[0]));
      this.workers.forEach(({ ch }, i) => {
        sums = unpack(shapes, theirs(ch)).map((t, k) =>
          tf.add(sums[k], tf.mul(t, fractions[i + 1])),
        );
      });
      return sums;
    };
    const grads = weighted(mine.grads, (ch) => ch.grads, trainable);
    const named: tf.NamedTensorMap = {};
    trainable.forEach((v, k) => (named[v.read().name] = grads[k]));
    this.model.optimizer.applyGradients(named);
    if (others.length > 0)
      weighted(
        others.map((v) => v.read()),
        (ch) => ch.stats,
        others,
      ).forEach((t, k) => others[k].write(t));
    const outputs = [mine.loss, ...mine.metrics].map((t, k) => {
      let v = tf.mul(t, fractions[0]);
      this.workers.forEach(({ ch }, i) => (v = tf.add(v, ch.outputs[k] * fractions[i + 1])));
      return v as tf.Scalar;
    });
    return outputs;
  }

  private send(ch: Channel, x: tf.Tensor, y: tf.Tensor, offset: number, rows: number): void {
    const copy = (t: tf.Tensor, target: Float32Array, what: string) => {
      const part = tf.slice(t, offset, rows);
      const values = part.dataSync();
      part.dispose();
      if (values.length > target.length)
        throw new Error(
          `data-parallel training: a shard's ${what} (${values.length} values) exceeds the ` +
            `space reserved for ${target.length}; ` +
            "batches larger than the batchSize given to train()?",
        );
      target.set(values);
    };
    copy(x, ch.input, "inputs");
    copy(y, ch.target, "targets");
    writeShape(ch.control, SLOT.inputShape, x.shape.slice(1));
    writeShape(ch.control, SLOT.targetShape, y.shape.slice(1));
    ch.control[SLOT.rows] = rows;
    this.command(ch, COMMAND_STEP);
  }

  private command(ch: Channel, kind: number): void {
    ch.control[SLOT.kind] = kind;
    Atomics.add(ch.control, SLOT.command, 1);
    Atomics.notify(ch.control, SLOT.command);
  }

  /** Blocks until worker `index` has finished the last command; throws its error, if any. */
  private wait(ch: Channel, index: number): void {
    const expected = Atomics.load(ch.control, SLOT.command);
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(ch.control, SLOT.done);
      if (done === expected) break;
      if (Date.now() > deadline)
        throw new Error(
          `data-parallel training: worker ${index} did not finish its shard ` +
            `within ${STEP_TIMEOUT_MS / 1000} s (crashed or out of memory?)`,
        );
      Atomics.wait(ch.control, SLOT.done, done, 1000);
    }
    if (ch.control[SLOT.failed])
      throw new Error(`data-parallel training: worker ${index} failed: ${readError(ch)}`);
  }

  /** Writes the main thread's weights to the board the workers read before their next step. */
  private publishWeights(): void {
    packVariables(
      [...trainableVariables(this.model), ...nonTrainableVariables(this.model)],
      this.board.values,
    );
    Atomics.add(this.board.version, 0, 1);
  }
}

function startWorker(setup: WorkerSetup): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, "worker.js"), { workerData: setup });
    const timer = setTimeout(
      () => fail(new Error(`no answer within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      void worker.terminate();
      reject(e);
    };
    worker.once("message", (m: { ready?: boolean; error?: string }) => {
      if (m.ready) {
        clearTimeout(timer);
        worker.removeAllListeners("error");
        worker.removeAllListeners("exit");
        worker.on("error", () => undefined); // later failures surface through the shared channel
        resolve(worker);
      } else fail(new Error(m.error ?? "unknown error"));
    });
    worker.once("error", fail);
    worker.once("exit", (code) => fail(new Error(`exited with code ${code}`)));
  });
}
