import * as tf from "@tensorflow/tfjs";
import { logValue } from "./logs";

/**
 * Stops training at the first batch whose loss is NaN or infinite (like Keras's TerminateOnNaN),
 * then makes `fit` reject with an error saying where it happened and what to try, instead of
 * finishing with a model full of NaNs.
 */
export class NaNGuard extends tf.Callback {
  private epoch = 0;
  /** Why training was stopped, if it was. */
  reason: string | undefined;

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const loss = await logValue(logs, "loss");
    if (loss !== undefined && !Number.isFinite(loss) && !this.reason) {
      this.reason =
        `training stopped: the loss became ${loss} at epoch ${this.epoch + 1}, ` +
        `batch ${batch + 1}. The weights are no longer usable; lower the learning rate ` +
        "or check the inputs for NaN/Inf and their scale.";
      (this.model as unknown as tf.LayersModel).stopTraining = true;
    }
  }

  override async onTrainEnd(): Promise<void> {
    if (!this.reason) return;
    // fit would resolve the History's scalar tensors after
    // onTrainEnd; throwing skips that, so do it first.
    await (
      this.model as unknown as { history?: { syncData(): Promise<void> } }
    ).history?.syncData();
    throw new Error(this.reason);
  }
}
