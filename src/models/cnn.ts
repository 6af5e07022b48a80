import * as tf from "@tensorflow/tfjs";
import { KERAS_KERNEL_INITIALIZER } from "./keras-defaults";

/**
 * The book's MNIST network ("使用 Keras 的深度卷积网络示例", companion script dcn.py),
 * layer for layer: input dropout, four 3x3 same-padded ReLU convolutions (16, 32, 64, 64) with
 * dropout and 2x2 average pooling, Dense 1024 and a 10-way softmax. `countParams()` is 1,120,074,
 * as in Keras. Not compiled: the caller chooses the optimizer (the book: Adam 1e-3, decay 1e-5).
 * Kernels start Glorot-uniform, Keras's default (tfjs's own is Glorot-normal).
 */
export function mnistCnn(): tf.Sequential {
  const conv = (filters: number, inputShape?: number[]) =>
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      kernelInitializer: KERAS_KERNEL_INITIALIZER,
      ...(inputShape ? { inputShape } : {}),
    });
  const pool = () => tf.layers.averagePooling2d({ poolSize: 2, padding: "same" });
  return tf.sequential({
    name: "mnist_cnn",
    layers: [
      tf.layers.dropout({ rate: 0.25, inputShape: [28, 28, 1] }),
      conv(16),
      tf.layers.dropout({ rate: 0.5 }),
      conv(32),
      tf.layers.dropout({ rate: 0.5 }),
      pool(),
      conv(64),
      pool(),
      conv(64),
      tf.layers.dropout({ rate: 0.5 }),
      pool(),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 1024,
        activation: "relu",
        kernelInitializer: KERAS_KERNEL_INITIALIZER,
      }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({
        units: 10,
        activation: "softmax",
        kernelInitializer: KERAS_KERNEL_INITIALIZER,
      }),
    ],
  });
}

/**
 * The book's Fashion-MNIST network ("使用 Keras 和数据增强的深度卷积网络的示例",
 * dcn_da.py): 3x3 same convolutions (32, 64, 64, 128, 128) each followed by BatchNormalization and
 * LeakyReLU(0.1), 2x2 max pooling after the 2nd and 5th, two Dense 1024 blocks with BN and
 * LeakyReLU, and a 10-way softmax. `countParams()` is 7,770,442 (trainable weights plus the
 * BatchNorm moving statistics), as in Keras.
 *
 * `batchNormMomentum` (default 0.99, Keras's) sets how slowly the BatchNorm moving averages used at
 * inference follow the batch statistics: after t training steps they have moved 1 - momentum^t of
 * the way from their initial values, so a run of a few dozen steps evaluates with statistics far
 * from the real ones (measured: test accuracy at chance after 16 steps even at momentum 0.9).
 */
export function fashionCnn(options: { batchNormMomentum?: number } = {}): tf.Sequential {
  const momentum = options.batchNormMomentum ?? 0.99;
  const block = (layer: tf.layers.Layer): tf.layers.Layer[] => [
    layer,
    tf.layers.batchNormalization({ momentum }),
    tf.layers.leakyReLU({ alpha: 0.1 }),
  ];
  const conv = (filters: number, inputShape?: number[]) =>
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      kernelInitializer: KERAS_KERNEL_INITIALIZER,
      ...(inputShape ? { inputShape } : {}),
    });
  return tf.sequential({
    name: "fashion_cnn",
    layers: [
      ...block(conv(32, [28, 28, 1])),
      ...block(conv(64)),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      ...block(conv(64)),
      ...block(conv(128)),
      ...block(conv(128)),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      ...block(tf.layers.dense({ units: 1024, kernelInitializer: KERAS_KERNEL_INITIALIZER })),
      ...block(tf.layers.dense({ units: 1024, kernelInitializer: KERAS_KERNEL_INITIALIZER })),
      tf.layers.dense({
        units: 10,
        activation: "softmax",
        kernelInitializer: KERAS_KERNEL_INITIALIZER,
      }),
    ],
  });
}
