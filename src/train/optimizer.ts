import * as tf from "@tensorflow/tfjs";

/**
 * Adam with Keras 2's `decay` argument: before update t (counting from 0) the learning rate is
 * `lr / (1 + decay * t)`. The book trains with `Adam(lr=1e-3, decay=1e-5)` (MNIST, Fashion) and
 * `Adam(lr=1e-3, decay=1e-4)` (sunspots). `baseLearningRate` is what ReduceLROnPlateau changes,
 * as Keras changes `optimizer.lr`. Update rule otherwise tfjs's Adam (epsilon added to the
 * bias-corrected root, where Keras 2 adds it before the correction: a difference only while
 * the second moment is about epsilon²).
 */
export class DecayedAdam extends tf.AdamOptimizer {
  constructor(public baseLearningRate: number, public decay = 0, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(baseLearningRate, beta1, beta2, epsilon);
    if (!(baseLearningRate > 0)) throw new Error(`DecayedAdam: learning rate must be positive, got ${baseLearningRate}`);
    if (!(decay >= 0)) throw new Error(`DecayedAdam: decay must be >= 0, got ${decay}`);
  }

  /** The learning rate the next update will use. */
  currentLearningRate(): number {
    return this.baseLearningRate / (1 + this.decay * this.iterations);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    this.learningRate = this.currentLearningRate();
    super.applyGradients(variableGradients);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), baseLearningRate: this.baseLearningRate, decay: this.decay };
  }
}

/** The learning rate a schedule or callback should read: the base rate of {@link DecayedAdam}, else the optimizer's own. */
export function getLearningRate(optimizer: tf.Optimizer): number {
  if (optimizer instanceof DecayedAdam) return optimizer.baseLearningRate;
  const lr = (optimizer as unknown as { learningRate?: number }).learningRate;
  if (typeof lr !== "number") throw new Error(`${optimizer.getClassName()} has no learningRate to read`);
  return lr;
}

/** Sets the learning rate as {@link getLearningRate} reads it. */
export function setLearningRate(optimizer: tf.Optimizer, value: number): void {
  if (optimizer instanceof DecayedAdam) optimizer.baseLearningRate = value;
  else (optimizer as unknown as { learningRate: number }).learningRate = value;
}
