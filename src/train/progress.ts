import * as tf from "@tensorflow/tfjs";
import { History } from "../core/history";
import { TrainingCurve, trainingCurveChart } from "../viz/charts";
import { LiveDisplay, inNotebook } from "../viz/display";
import { appendToHistory, logValues } from "./logs";

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Records training batch by batch for the live chart: an exponential moving average of each
 * metric with TensorBoard's bias correction (so the first points are not pulled towards 0), and
 * at most about `maxPoints` points however long the run (every 2nd, 4th, ... batch once full).
 */
export class CurveRecorder {
  readonly curve: TrainingCurve = { x: [], smoothed: {}, epochX: [], epochs: {} };
  private readonly average: Record<string, { value: number; steps: number }> = {};
  private stride = 1;
  private seen = 0;

  /** @param smoothing weight of the past in the moving average (0: none). */
  constructor(
    private readonly smoothing = 0.9,
    private readonly maxPoints = 400,
  ) {
    if (!(smoothing >= 0 && smoothing < 1))
      throw new Error(`CurveRecorder: smoothing must be in [0, 1), got ${smoothing}`);
  }

  /** Adds one batch's metrics at position `x` (in epochs). */
  addBatch(x: number, metrics: Record<string, number>): void {
    for (const [name, v] of Object.entries(metrics)) {
      if (!Number.isFinite(v)) continue;
      const a = (this.average[name] ??= { value: 0, steps: 0 });
      a.value = this.smoothing * a.value + (1 - this.smoothing) * v;
      a.steps++;
    }
    if (this.seen++ % this.stride !== 0) return;
    this.curve.x.push(x);
    for (const [name, a] of Object.entries(this.average)) {
      const series = (this.curve.smoothed[name] ??= new Array<number>(this.curve.x.length - 1).fill(
        NaN,
      ));
      series.push(a.value / (1 - this.smoothing ** a.steps));
    }
    if (this.curve.x.length >= 2 * this.maxPoints) this.thin();
  }

  /**
   * Adds the metrics logged at the end of the epoch that
   * ends at `x` (validation values, learning rate, ...).
   */
  addEpoch(x: number, metrics: Record<string, number>): void {
    this.curve.epochX.push(x);
    appendToHistory(this.curve.epochs, metrics);
  }

  private thin(): void {
    const keep = (a: number[]) => a.filter((_, i) => i % 2 === 0);
    this.curve.x = keep(this.curve.x);
    for (const name of Object.keys(this.curve.smoothed))
      this.curve.smoothed[name] = keep(this.curve.smoothed[name]);
    this.stride *= 2;
  }
}

/** Options of {@link TrainingProgress}. */
export interface TrainingProgressOptions {
  /** Batches per epoch (for the progress fraction and ETA). */
  batchesPerEpoch: number;
  epochs: number;
  /** Samples per batch (for samples/s). */
  batchSize: number;
  /** Least time between two updates of the progress line, in ms (default 1000). */
  throttleMs?: number;
  /** Least time between two redraws of the live chart during an epoch, in ms (default 5000). */
  chartThrottleMs?: number;
  /** Metrics to chart (default: every logged metric except `val_*`, which share their panel). */
  metrics?: string[];
  /** Title of the live chart. */
  title?: string;
  /** Threads computing the gradients, shown with the throughput when more than one (default 1). */
  threads?: number;
}

/**
 * Shows training as it happens. In a notebook: one text output rewritten in place with the
 * progress line (samples/s, time left), and one chart output with the smoothed training loss and
 * accuracy batch by batch and the validation values at epoch ends, redrawn every few seconds, at
 * every epoch end and when training ends (so the saved notebook keeps the whole curve). In a
 * terminal: the progress line rewritten in place on a TTY, one line per epoch otherwise.
 * Keeps the epoch history (`history`), the batch curve (`curve`) and the timings.
 */
export class TrainingProgress extends tf.Callback {
  /** Seconds each epoch took. */
  readonly epochSeconds: number[] = [];
  private readonly notebook = inNotebook();
  private readonly line = new LiveDisplay();
  private readonly chart = new LiveDisplay();
  private readonly recorder = new CurveRecorder();
  private epoch = 0;
  private epochStart = 0;
  private lastUpdate = 0;
  private lastChart = 0;
  private chartShown = 0;

  /** The training curve so far (smoothed batch metrics, epoch-end metrics). */
  get curve(): TrainingCurve {
    return this.recorder.curve;
  }

  /** Metric name to one value per finished epoch (the curve's epoch-end metrics). */
  get history(): History {
    return this.recorder.curve.epochs;
  }

  constructor(private readonly options: TrainingProgressOptions) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.epochStart = Date.now();
    this.lastUpdate = 0;
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const done = batch + 1;
    const metrics = await logValues(logs);
    this.recorder.addBatch(this.epoch + done / this.options.batchesPerEpoch, metrics);
    const now = Date.now();
    if (now - this.lastUpdate >= (this.options.throttleMs ?? 1000)) {
      this.lastUpdate = now;
      this.showBatchLine(done, now, metrics);
    }
    if (this.notebook && now - this.lastChart >= (this.options.chartThrottleMs ?? 5000)) {
      this.lastChart = now;
      await this.drawChart();
    }
  }

  /** The progress line during an epoch: position, metrics, throughput and time left. */
  private showBatchLine(done: number, now: number, metrics: Record<string, number>): void {
    const elapsed = (now - this.epochStart) / 1000;
    const rate = (done * this.options.batchSize) / Math.max(elapsed, 1e-3);
    const eta = ((this.options.batchesPerEpoch - done) * elapsed) / done;
    const loss = metrics.loss;
    const acc = metrics.acc ?? metrics.accuracy;
    const threads = this.options.threads ?? 1;
    const parts = [
      `epoch ${this.epoch + 1}/${this.options.epochs}`,
      `batch ${done}/${this.options.batchesPerEpoch}`,
      loss !== undefined ? `loss ${loss.toFixed(4)}` : "",
      acc !== undefined ? `acc ${acc.toFixed(4)}` : "",
      `${rate.toFixed(0)} samples/s${threads > 1 ? ` on ${threads} threads` : ""}`,
      `epoch ETA ${formatDuration(eta)}`,
    ];
    this.show(parts.filter(Boolean).join(" · "), false);
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const seconds = (Date.now() - this.epochStart) / 1000;
    this.epochSeconds.push(seconds);
    this.recorder.addEpoch(epoch + 1, await logValues(logs));
    const summary = Object.entries(this.history)
      .map(([k, v]) => `${k} ${v[v.length - 1].toPrecision(4)}`)
      .join(" · ");
    const remaining =
      (this.options.epochs - epoch - 1) *
      (this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length);
    const left = remaining > 0 ? ` · about ${formatDuration(remaining)} left` : "";
    this.show(
      `epoch ${epoch + 1}/${this.options.epochs} done in ${formatDuration(seconds)} · ` +
        `${summary}${left}`,
      true,
    );
    if (this.notebook) await this.drawChart();
  }

  override async onTrainEnd(): Promise<void> {
    if (this.notebook && this.chartShown !== this.curve.x.length) await this.drawChart();
  }

  private async drawChart(): Promise<void> {
    const names = Object.keys(this.curve.smoothed);
    if (names.length === 0) return;
    const metrics = (this.options.metrics ?? names).filter((m) => names.includes(m));
    this.chartShown = this.curve.x.length;
    await this.chart.chart(
      trainingCurveChart(this.curve, { title: this.options.title ?? "Training", metrics }),
    );
  }

  private show(text: string, epochEnd: boolean): void {
    if (this.notebook) this.line.text(text);
    else if (process.stdout.isTTY)
      process.stdout.write(`\r${text.padEnd(100)}${epochEnd ? "\n" : ""}`);
    else if (epochEnd) console.log(text);
  }
}
