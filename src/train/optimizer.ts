import * as tf from "@tensorflow/tfjs";

/** Keras 2's `K.epsilon()`, the default of its Adam's `epsilon` (Keras 2.1.3 and later; 1e-8 before). */
export const KERAS_EPSILON = 1e-7;

/**
 * Adam as Keras 2 ran it in the book, with its `decay` argument: before update t (counting from 0)
 * the learning rate is `lr / (1 + decay * t)`. The book trains with `Adam(lr=1e-3, decay=1e-5)`
 * (MNIST, Fashion) and `Adam(lr=1e-3, decay=1e-4)` (sunspots). `baseLearningRate` is what
 * ReduceLROnPlateau changes, as Keras changes `optimizer.lr`.
 *
 * Keras (2 and 3) adds epsilon to the root of the *raw* second moment,
 * `lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`, where tfjs's Adam adds it to the bias-corrected root,
 * `lr · m̂/(√v̂ + ε)`. The two agree exactly when tfjs is given `ε/√(1−β₂ᵗ)`, which
 * {@link applyGradients} sets before every update (`epsilon` stays the Keras value).
 */
export class DecayedAdam extends tf.AdamOptimizer {
  /** Epsilon in Keras's placement. */
  readonly kerasEpsilon: number;

  constructor(public baseLearningRate: number, public decay = 0, beta1 = 0.9, beta2 = 0.999, epsilon = KERAS_EPSILON) {
    super(baseLearningRate, beta1, beta2, epsilon);
    if (!(baseLearningRate > 0)) throw new Error(`DecayedAdam: learning rate must be positive, got ${baseLearningRate}`);
    if (!(decay >= 0)) throw new Error(`DecayedAdam: decay must be >= 0, got ${decay}`);
    if (!(epsilon > 0)) throw new Error(`DecayedAdam: epsilon must be positive, got ${epsilon}`);
    this.kerasEpsilon = epsilon;
  }

  /** The learning rate the next update will use. */
  currentLearningRate(): number {
    return this.baseLearningRate / (1 + this.decay * this.iterations);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const t = this.iterations + 1;
    this.learningRate = this.currentLearningRate();
    this.epsilon = this.kerasEpsilon / Math.sqrt(1 - this.beta2 ** t);
    super.applyGradients(variableGradients);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.kerasEpsilon, baseLearningRate: this.baseLearningRate, decay: this.decay };
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
