import * as tf from "@tensorflow/tfjs";
import { History, historyChart } from "../viz/charts";
import { LiveDisplay, inNotebook } from "../viz/display";
import { logValue } from "./logs";

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Options of {@link TrainingProgress}. */
export interface TrainingProgressOptions {
  /** Batches per epoch (for the progress fraction and ETA). */
  batchesPerEpoch: number;
  epochs: number;
  /** Samples per batch (for samples/s). */
  batchSize: number;
  /** Least time between two batch updates, in ms (default 1000). */
  throttleMs?: number;
  /** Metrics to chart (default: every logged metric except `val_*`, which share their panel). */
  metrics?: string[];
  /** Title of the live chart. */
  title?: string;
  /** Threads computing the gradients, shown with the throughput when more than one (default 1). */
  threads?: number;
}

/**
 * Shows training as it happens. In a notebook: one text output rewritten in place with the
 * progress line, and one chart output (the history so far) redrawn after every epoch. In a
 * terminal: the progress line rewritten in place on a TTY, one line per epoch otherwise.
 * Keeps the epoch history (`history`) and the timings.
 */
export class TrainingProgress extends tf.Callback {
  readonly history: History = {};
  /** Seconds each epoch took. */
  readonly epochSeconds: number[] = [];
  private readonly notebook = inNotebook();
  private readonly line = new LiveDisplay();
  private readonly chart = new LiveDisplay();
  private epoch = 0;
  private epochStart = 0;
  private lastUpdate = 0;

  constructor(private readonly options: TrainingProgressOptions) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.epochStart = Date.now();
    this.lastUpdate = 0;
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const now = Date.now();
    if (now - this.lastUpdate < (this.options.throttleMs ?? 1000)) return;
    this.lastUpdate = now;
    const elapsed = (now - this.epochStart) / 1000;
    const done = batch + 1;
    const rate = (done * this.options.batchSize) / Math.max(elapsed, 1e-3);
    const eta = ((this.options.batchesPerEpoch - done) * elapsed) / done;
    const loss = await logValue(logs, "loss");
    const acc = (await logValue(logs, "acc")) ?? (await logValue(logs, "accuracy"));
    const parts = [
      `epoch ${this.epoch + 1}/${this.options.epochs}`,
      `batch ${done}/${this.options.batchesPerEpoch}`,
      loss !== undefined ? `loss ${loss.toFixed(4)}` : "",
      acc !== undefined ? `acc ${acc.toFixed(4)}` : "",
      `${rate.toFixed(0)} samples/s${(this.options.threads ?? 1) > 1 ? ` on ${this.options.threads} threads` : ""}`,
      `epoch ETA ${formatDuration(eta)}`,
    ];
    this.show(parts.filter(Boolean).join(" · "), false);
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const seconds = (Date.now() - this.epochStart) / 1000;
    this.epochSeconds.push(seconds);
    for (const key of Object.keys(logs ?? {})) {
      const v = await logValue(logs, key);
      if (v !== undefined) (this.history[key] ??= []).push(v);
    }
    const summary = Object.entries(this.history).map(([k, v]) => `${k} ${v[v.length - 1].toPrecision(4)}`).join(" · ");
    const remaining = (this.options.epochs - epoch - 1) * (this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length);
    this.show(`epoch ${epoch + 1}/${this.options.epochs} done in ${formatDuration(seconds)} · ${summary}${remaining > 0 ? ` · about ${formatDuration(remaining)} left` : ""}`, true);
    if (this.notebook && Object.keys(this.history).length > 0) {
      await this.chart.chart(historyChart(this.history, { title: this.options.title ?? "Training history", metrics: this.options.metrics }));
    }
  }

  private show(text: string, epochEnd: boolean): void {
    if (this.notebook) this.line.text(text);
    else if (process.stdout.isTTY) process.stdout.write(`\r${text.padEnd(100)}${epochEnd ? "\n" : ""}`);
    else if (epochEnd) console.log(text);
  }
}
