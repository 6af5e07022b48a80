import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { fileHandler } from "./file-io";
import { appendToHistory, logValues } from "./logs";

/** Everything needed to continue a run where it stopped. */
export interface CheckpointMeta {
  /** Identifies the run; a checkpoint folder belongs to one run. */
  runId: string;
  /** Epochs completed. */
  epoch: number;
  /** Metric name to one value per completed epoch. */
  history: Record<string, number[]>;
  seed: number;
  savedAt: string;
  /** Free-form settings of the run (experiment name, hyper-parameters), saved for reference. */
  settings?: Record<string, unknown>;
}

const META = "checkpoint.json";
const OPTIMIZER_JSON = "optimizer.json";
const OPTIMIZER_BIN = "optimizer.bin";

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Replace a checkpoint of a different run in the same folder (default false: refuse). */
  overwrite?: boolean;
}

/**
 * Saves model (topology and weights, tfjs format), optimizer state (iterations, moments) and
 * `meta` to `dir`. The new files are written next to the old ones and swapped in only when
 * complete, so an interrupted save never destroys the previous checkpoint. A folder holding a
 * checkpoint of **another** run is never overwritten unless `overwrite` is set.
 * @throws naming the folder and the run it holds.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  meta: Omit<CheckpointMeta, "savedAt">,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const existing = readMeta(dir);
  if (existing && existing.runId !== meta.runId && !options.overwrite) {
    throw new Error(
      `${dir} holds a checkpoint of another run (${existing.runId}, epoch ${existing.epoch}, saved ${existing.savedAt}); ` +
        "resume that run, choose another output folder, or allow overwriting explicitly",
    );
  }
  const staging = `${dir}.saving-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  await model.save(fileHandler(staging));
  if (model.optimizer) {
    const weights = await model.optimizer.getWeights();
    const { data, specs } = await tf.io.encodeWeights(weights);
    fs.writeFileSync(
      path.join(staging, OPTIMIZER_JSON),
      JSON.stringify({
        className: model.optimizer.getClassName(),
        config: model.optimizer.getConfig(),
        specs,
      }),
    );
    fs.writeFileSync(path.join(staging, OPTIMIZER_BIN), Buffer.from(data));
  }
  fs.writeFileSync(
    path.join(staging, META),
    JSON.stringify({ ...meta, savedAt: new Date().toISOString() }, null, 1),
  );
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(staging, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The checkpoint metadata in `dir`, or undefined when there is none. */
export function readMeta(dir: string): CheckpointMeta | undefined {
  const file = path.join(dir, META);
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${file}: unreadable checkpoint metadata (${(e as Error).message})`);
  }
}

/** A loaded checkpoint: the model (not compiled), the optimizer state to restore, and the metadata. */
export interface LoadedCheckpoint {
  model: tf.LayersModel;
  meta: CheckpointMeta;
  /** Restores the saved optimizer state into `optimizer` (call after compiling the model with it). */
  restoreOptimizer(optimizer: tf.Optimizer): Promise<void>;
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}.
 * @throws naming the file when the folder holds no checkpoint or a file is damaged.
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const meta = readMeta(dir);
  if (!meta) throw new Error(`${dir}: no checkpoint here (missing ${META})`);
  const model = await tf.loadLayersModel(fileHandler(dir));
  return {
    model,
    meta,
    restoreOptimizer: async (optimizer) => {
      const jsonFile = path.join(dir, OPTIMIZER_JSON);
      if (!fs.existsSync(jsonFile)) return;
      const saved = JSON.parse(fs.readFileSync(jsonFile, "utf8")) as {
        className: string;
        specs: tf.io.WeightsManifestEntry[];
      };
      if (saved.className !== optimizer.getClassName()) {
        throw new Error(
          `${jsonFile}: saved state of a ${saved.className} optimizer cannot be loaded into a ${optimizer.getClassName()}`,
        );
      }
      const bin = fs.readFileSync(path.join(dir, OPTIMIZER_BIN));
      const tensors = tf.io.decodeWeights(
        bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        saved.specs,
      );
      await optimizer.setWeights(
        saved.specs.map((s) => ({ name: s.name, tensor: tensors[s.name] })),
      );
      tf.dispose(Object.values(tensors)); // the optimizer's variables keep their own references
    },
  };
}

/**
 * Keras's `ModelCheckpoint` for resumable runs: after every epoch saves the model, optimizer
 * state and the history so far (`previousHistory` from a resumed checkpoint, then this run's
 * epochs) with {@link saveCheckpoint}, so the same refusal to overwrite another run applies.
 */
export class ModelCheckpoint extends tf.Callback {
  /** The history saved with the latest checkpoint. */
  readonly history: Record<string, number[]>;

  constructor(
    private readonly dir: string,
    private readonly run: {
      runId: string;
      seed: number;
      settings?: Record<string, unknown>;
      previousHistory?: Record<string, number[]>;
    },
  ) {
    super();
    this.history = Object.fromEntries(
      Object.entries(run.previousHistory ?? {}).map(([k, v]) => [k, [...v]]),
    );
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    appendToHistory(this.history, await logValues(logs));
    await saveCheckpoint(this.dir, this.model as unknown as tf.LayersModel, {
      runId: this.run.runId,
      epoch: epoch + 1,
      history: this.history,
      seed: this.run.seed,
      settings: this.run.settings,
    });
  }
}
