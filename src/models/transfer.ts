import * as tf from "@tensorflow/tfjs";

/**
 * A small convolutional base for the transfer-learning notebook: three blocks of 3x3 convolution
 * (16, 32, 64 filters, ReLU, same padding) and 2x2 max pooling, flattened to 576 features. Small so
 * that pre-training, few-shot training and fine-tuning all fit in a few minutes on a CPU.
 */
export function convBase(): tf.Sequential {
  const block = (filters: number, first = false): tf.layers.Layer[] => [
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      name: `conv_${filters}`,
      ...(first ? { inputShape: [28, 28, 1] } : {}),
    }),
    tf.layers.maxPooling2d({ poolSize: 2, name: `pool_${filters}` }),
  ];
  return tf.sequential({
    name: "conv_base",
    layers: [
      ...block(16, true),
      ...block(32),
      ...block(64),
      tf.layers.flatten({ name: "features" }),
    ],
  });
}

/**
 * `base` (a model used as one layer) followed by a new head: Dense(64, ReLU), Dropout(0.25) and a
 * `classes`-way softmax. Set `base.trainable = false` before compiling to train the head only.
 */
export function withHead(base: tf.LayersModel, classes: number): tf.Sequential {
  return tf.sequential({
    name: "classifier",
    layers: [
      base as unknown as tf.layers.Layer,
      tf.layers.dense({ units: 64, activation: "relu" }),
      tf.layers.dropout({ rate: 0.25 }),
      tf.layers.dense({ units: classes, activation: "softmax" }),
    ],
  });
}
