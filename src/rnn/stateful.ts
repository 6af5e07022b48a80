import * as tf from "@tensorflow/tfjs";

interface StatefulRnn {
  stateful?: boolean;
  keptStates?: tf.Tensor[][];
}

/** The stateful recurrent layers of a model (including those wrapped by Bidirectional). */
function statefulLayers(model: tf.LayersModel): StatefulRnn[] {
  return model.layers
    .map((l) => l as unknown as StatefulRnn)
    .filter((l) => l.stateful && Array.isArray(l.keptStates));
}

/**
 * Frees the old states a stateful tfjs RNN keeps after every batch. tfjs pushes each replaced state
 * onto `keptStates` (for back-propagation within the step) and frees them only in `resetStates()`,
 * so a stateful run that never resets (the book's) gains two tensors per LSTM per batch. Once a
 * training step is over they are no longer needed.
 */
export class ReleaseKeptStates extends tf.Callback {
  override async onBatchEnd(): Promise<void> {
    releaseKeptStates(this.model as unknown as tf.LayersModel);
  }

  override async onEpochEnd(): Promise<void> {
    releaseKeptStates(this.model as unknown as tf.LayersModel);
  }
}

/**
 * Frees the kept old states of every stateful RNN layer of `model` (see {@link ReleaseKeptStates}).
 */
export function releaseKeptStates(model: tf.LayersModel): void {
  for (const layer of statefulLayers(model)) {
    tf.dispose(layer.keptStates!.flat());
    layer.keptStates = [];
  }
}
