import * as tf from "@tensorflow/tfjs";
import { History } from "../core/history";

/**
 * A metric from tfjs callback logs as a number. tfjs hands `tf.Callback` subclasses the raw logs,
 * whose values may still be scalar tensors (only CustomCallback resolves them first).
 * @returns undefined when the metric is absent.
 */
export async function logValue(
  logs: tf.Logs | undefined,
  key: string,
): Promise<number | undefined> {
  const v = (logs as Record<string, unknown> | undefined)?.[key];
  if (typeof v === "number") return v;
  if (v instanceof tf.Tensor) return (await v.data())[0];
  return undefined;
}

/**
 * Every metric in tfjs callback logs as a number (tensors read), leaving out tfjs's batch
 * bookkeeping (`batch`, `size`).
 */
export async function logValues(logs: tf.Logs | undefined): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const key of Object.keys(logs ?? {})) {
    if (key === "batch" || key === "size") continue;
    const v = await logValue(logs, key);
    if (v !== undefined) values[key] = v;
  }
  return values;
}

/** Appends one epoch's metric values to a Keras-like history (metric name → value per epoch). */
export function appendToHistory(history: History, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) (history[key] ??= []).push(value);
}
