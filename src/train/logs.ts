import * as tf from "@tensorflow/tfjs";

/**
 * A metric from tfjs callback logs as a number. tfjs hands `tf.Callback` subclasses the raw logs,
 * whose values may still be scalar tensors (only CustomCallback resolves them first).
 * @returns undefined when the metric is absent.
 */
export async function logValue(logs: tf.Logs | undefined, key: string): Promise<number | undefined> {
  const v = (logs as Record<string, unknown> | undefined)?.[key];
  if (typeof v === "number") return v;
  if (v instanceof tf.Tensor) return (await v.data())[0];
  return undefined;
}
