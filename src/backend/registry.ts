import * as tf from "@tensorflow/tfjs";

/**
 * The bookkeeping shared by the modules that register kernels and gradients (fallback-kernels.ts for
 * wasm and cpu, native/kernels.ts for tensorflow): which functions are ours, wrapping a backend's
 * kernel once, and running a kernel body on tensors. Internal: not exported by the package.
 */

/** Kernel and gradient functions this package registered, so registering again is a no-op. */
export const ours = new WeakSet<tf.KernelFunc | tf.GradFunc>();

/** Runs `body` on the kernel's inputs as tensors; tensors wrapped here are released afterwards. */
export function withTensors<T>(infos: tf.TensorInfo[], body: (...ts: tf.Tensor[]) => T): T {
  const created: tf.Tensor[] = [];
  const tensors = infos.map((info) => {
    if (info instanceof tf.Tensor) return info;
    const t = (
      tf.engine() as unknown as { makeTensorFromTensorInfo(i: tf.TensorInfo): tf.Tensor }
    ).makeTensorFromTensorInfo(info);
    created.push(t);
    return t;
  });
  try {
    return body(...tensors);
  } finally {
    created.forEach((t) => t.dispose());
  }
}

/** Replaces a backend's kernel by `wrap(original)`, once. */
export function wrapKernel(
  name: string,
  backendName: string,
  wrap: (original: tf.KernelFunc) => tf.KernelFunc,
): void {
  const kernel = tf.getKernel(name, backendName);
  if (!kernel || ours.has(kernel.kernelFunc)) return;
  const kernelFunc = wrap(kernel.kernelFunc);
  ours.add(kernelFunc);
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...kernel, kernelFunc });
}
