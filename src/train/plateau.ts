import * as tf from "@tensorflow/tfjs";
import { logValue } from "./logs";
import { getLearningRate, setLearningRate } from "./optimizer";

/**
 * Options of {@link PlateauSchedule} / {@link ReduceLROnPlateau}, with Keras's names and defaults.
 */
export interface ReduceLROnPlateauOptions {
  /** Metric to watch (default `val_loss`). */
  monitor?: string;
  /** Multiply the learning rate by this on a plateau (default 0.1). */
  factor?: number;
  /** Epochs without improvement before reducing (default 10). */
  patience?: number;
  /**
   * `min` (default for losses), `max` (accuracies) or `auto` (max when the name contains "acc").
   */
  mode?: "auto" | "min" | "max";
  /** An improvement must beat the best value by more than this (default 1e-4). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the learning rate (default 0). */
  minLr?: number;
}

/**
 * The decision logic of Keras's ReduceLROnPlateau, without tensors: feed one value per epoch,
 * get the learning rate to use next. Kept separate so it can be tested on synthetic sequences.
 */
export class PlateauSchedule {
  readonly monitor: string;
  private readonly factor: number;
  private readonly patience: number;
  private readonly minDelta: number;
  private readonly cooldown: number;
  private readonly minLr: number;
  private readonly maximise: boolean;
  private best: number;
  private wait = 0;
  private cooldownCounter = 0;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    this.monitor = options.monitor ?? "val_loss";
    this.factor = options.factor ?? 0.1;
    if (!(this.factor > 0 && this.factor < 1))
      throw new Error(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.factor}`);
    this.patience = options.patience ?? 10;
    this.minDelta = Math.abs(options.minDelta ?? 1e-4);
    this.cooldown = options.cooldown ?? 0;
    this.minLr = options.minLr ?? 0;
    const mode = options.mode ?? "auto";
    this.maximise = mode === "max" || (mode === "auto" && this.monitor.includes("acc"));
    this.best = this.maximise ? -Infinity : Infinity;
  }

  /**
   * Records the epoch's value of the monitored metric and returns the learning rate for the next
   * epoch (`lr` itself when nothing changes).
   */
  step(value: number, lr: number): number {
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    const improved = this.maximise
      ? value > this.best + this.minDelta
      : value < this.best - this.minDelta;
    if (improved) {
      this.best = value;
      this.wait = 0;
      return lr;
    }
    if (this.cooldownCounter > 0) return lr;
    this.wait++;
    if (this.wait < this.patience) return lr;
    this.wait = 0;
    if (lr <= this.minLr) return lr;
    this.cooldownCounter = this.cooldown;
    return Math.max(lr * this.factor, this.minLr);
  }
}

/**
 * Keras's `ReduceLROnPlateau` callback for tfjs `fit`: when the monitored metric stops improving
 * for `patience` epochs, multiply the learning rate by `factor` (not below `minLr`), then wait
 * `cooldown` epochs. Works with {@link DecayedAdam} (changes its base rate) and any tfjs optimizer
 * with a `learningRate`. The rate used in each epoch is kept in `history` (`lr` per epoch).
 */
export class ReduceLROnPlateau extends tf.Callback {
  private readonly schedule: PlateauSchedule;
  /** Learning rate at the start of each epoch. */
  readonly history: number[] = [];
  /** Epochs (0-based) after which the rate was reduced. */
  readonly reductions: number[] = [];

  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    this.schedule = new PlateauSchedule(options);
  }

  override async onEpochBegin(): Promise<void> {
    this.history.push(getLearningRate(this.optimizer()));
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const value = await logValue(logs, this.schedule.monitor);
    if (value === undefined) {
      throw new Error(
        `ReduceLROnPlateau: metric "${this.schedule.monitor}" is not in the epoch logs ` +
          `(${Object.keys(logs ?? {}).join(", ")}); pass validation data or choose another monitor`,
      );
    }
    const lr = getLearningRate(this.optimizer());
    // as Keras: the epoch's rate goes into the logs (and checkpoints' history)
    if (logs) logs.lr = lr;
    const next = this.schedule.step(value, lr);
    if (next !== lr) {
      setLearningRate(this.optimizer(), next);
      this.reductions.push(epoch);
    }
  }

  private optimizer(): tf.Optimizer {
    const model = this.model as unknown as tf.LayersModel | undefined;
    if (!model?.optimizer)
      throw new Error("ReduceLROnPlateau: the model has no optimizer (compile it first)");
    return model.optimizer;
  }
}
