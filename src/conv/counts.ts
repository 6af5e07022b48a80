import * as tf from "@tensorflow/tfjs";

/**
 * Closed-form operation and parameter counts from the book, checked in tests against the
 * reference implementations' counters and tfjs's `countParams()`.
 */

/** Multiplications of a valid n x m convolution over a w x h image: n·m per output pixel. */
export function standardConvOps(w: number, h: number, n: number, m: number): number {
  return n * m * (w - n + 1) * (h - m + 1);
}

/**
 * The book's estimate for a full (same-size) convolution,
 * n·m·w·h, and for a separable one, (n+m)·w·h.
 */
export function bookConvOps(
  w: number,
  h: number,
  n: number,
  m: number,
): { standard: number; separable: number } {
  return { standard: n * m * w * h, separable: (n + m) * w * h };
}

/**
 * Multiplications of the separable valid convolution:
 * column pass n per pixel, row pass m per pixel.
 */
export function separableConvOps(w: number, h: number, n: number, m: number): number {
  return n * (w - n + 1) * h + m * (w - n + 1) * (h - m + 1);
}

/**
 * Weights of a standard convolution with q kernels n x m over p channels: n·m·p·q (+ q biases).
 */
export function standardConvParams(
  n: number,
  m: number,
  p: number,
  q: number,
  bias = false,
): number {
  return n * m * p * q + (bias ? q : 0);
}

/**
 * Weights of a depthwise-separable convolution:
 * n·m·p (depthwise) + p·q (pointwise) (+ q biases).
 */
export function depthwiseSeparableParams(
  n: number,
  m: number,
  p: number,
  q: number,
  bias = false,
): number {
  return n * m * p + p * q + (bias ? q : 0);
}

/** The ratio depthwise-separable / standard parameters = 1/q + 1/(n·m). */
export function depthwiseSeparableRatio(n: number, m: number, q: number): number {
  return 1 / q + 1 / (n * m);
}

/** Parameters and multiply-accumulates of one layer for one input sample. */
export interface LayerCost {
  layer: string;
  output: string;
  params: number;
  /** Multiply-accumulate operations (a window comparison or addition counts as one for pooling). */
  macs: number;
}

/**
 * Parameters (from tfjs's `countParams()`) and multiply-accumulates (from the output shape and the
 * kernel size) of a layer applied to one `[h, w, c]` input. MACs: convolution
 * outH·outW·k²·in·out, depthwise outH·outW·k²·in·multiplier,
 * separable depthwise + outH·outW·in·out, transposed inH·inW·k²·in·out,
 * pooling outH·outW·c·window, dense in·out; reshaping layers 0.
 */
export function layerCost(
  name: string,
  layer: tf.layers.Layer,
  input: [number, number, number],
): LayerCost {
  const out = layer.computeOutputShape([null, ...input]) as (number | null)[];
  const shape = out.slice(1) as number[];
  layer.build([null, ...input]);
  const params = layer.countParams();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const k = Array.isArray(cfg.kernelSize)
    ? (cfg.kernelSize as number[]).reduce((a, b) => a * b, 1)
    : Number(cfg.kernelSize ?? 1) ** 2;
  const pool = Array.isArray(cfg.poolSize)
    ? (cfg.poolSize as number[]).reduce((a, b) => a * b, 1)
    : Number(cfg.poolSize ?? 1) ** 2;
  const [h, w, c] = input;
  const spatialOut = shape.length === 3 ? shape[0] * shape[1] : 1;
  const outChannels = shape[shape.length - 1];
  const cls = layer.getClassName();
  const macs =
    cls === "Conv2D"
      ? spatialOut * k * c * outChannels
      : cls === "DepthwiseConv2D"
        ? spatialOut * k * outChannels
        : cls === "SeparableConv2D"
          ? spatialOut * k * c * Number(cfg.depthMultiplier ?? 1) +
            spatialOut * c * Number(cfg.depthMultiplier ?? 1) * outChannels
          : cls === "Conv2DTranspose"
            ? h * w * k * c * outChannels
            : cls.endsWith("Pooling2D") && !cls.startsWith("Global")
              ? spatialOut * outChannels * pool
              : cls.startsWith("Global")
                ? h * w * c
                : cls === "Dense"
                  ? h * w * c * outChannels
                  : 0;
  return { layer: name, output: shape.join("x"), params, macs };
}
