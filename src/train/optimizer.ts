import * as tf from "@tensorflow/tfjs";
import { NativeAdamMoments } from "../native/adam";

/** What tfjs optimizers save and restore: a named tensor. */
type NamedTensor = Awaited<ReturnType<tf.Optimizer["getWeights"]>>[number];

/**
 * Keras 2's `K.epsilon()`, the default of its Adam's
 * `epsilon` (Keras 2.1.3 and later; 1e-8 before).
 */
export const KERAS_EPSILON = 1e-7;

/**
 * Adam as Keras 2 ran it in the book, with its `decay` argument: before update t (counting from 0)
 * the learning rate is `lr / (1 + decay * t)`. The book trains with `Adam(lr=1e-3, decay=1e-5)`
 * (MNIST, Fashion) and `Adam(lr=1e-3, decay=1e-4)` (sunspots). `baseLearningRate` is what
 * ReduceLROnPlateau changes, as Keras changes `optimizer.lr`.
 *
 * Keras (2 and 3) adds epsilon to the root of the *raw* second moment,
 * `lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`, where tfjs's Adam adds it to the
 * bias-corrected root, `lr · m̂/(√v̂ + ε)`. The two agree exactly when tfjs is given
 * `ε/√(1−β₂ᵗ)`, which {@link applyGradients} sets before every update (`epsilon` stays
 * the Keras value).
 *
 * On native TensorFlow (the `tensorflow` backend) each update is TensorFlow's fused
 * `ResourceApplyAdam`, the same formula in one kernel per variable, as Keras's graph runs it.
 */
export class DecayedAdam extends tf.AdamOptimizer {
  /** Epsilon in Keras's placement. */
  readonly kerasEpsilon: number;

  constructor(
    public baseLearningRate: number,
    public decay = 0,
    beta1 = 0.9,
    beta2 = 0.999,
    epsilon = KERAS_EPSILON,
  ) {
    super(baseLearningRate, beta1, beta2, epsilon);
    if (!(baseLearningRate > 0))
      throw new Error(`DecayedAdam: learning rate must be positive, got ${baseLearningRate}`);
    if (!(decay >= 0)) throw new Error(`DecayedAdam: decay must be >= 0, got ${decay}`);
    if (!(epsilon > 0)) throw new Error(`DecayedAdam: epsilon must be positive, got ${epsilon}`);
    this.kerasEpsilon = epsilon;
  }

  /** The learning rate the next update will use. */
  currentLearningRate(): number {
    return this.baseLearningRate / (1 + this.decay * this.iterations);
  }

  override applyGradients(
    variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0],
  ): void {
    const t = this.iterations + 1;
    this.learningRate = this.currentLearningRate();
    if (tf.getBackend() === "tensorflow") {
      this.applyNative(variableGradients, t);
      return;
    }
    if (this.native)
      throw new Error(
        "DecayedAdam: this optimizer's moments live in TensorFlow (it trained on the " +
          "tensorflow backend); continue on that backend, or compile the model with a new " +
          `optimizer for "${tf.getBackend()}"`,
      );
    this.epsilon = this.kerasEpsilon / Math.sqrt(1 - this.beta2 ** t);
    super.applyGradients(variableGradients);
  }

  /**
   * On native TensorFlow: one fused `ResourceApplyAdam`
   * per variable (see {@link NativeAdamMoments}).
   */
  private applyNative(
    variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0],
    step: number,
  ): void {
    const named = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor] as const)
      : Object.entries(variableGradients);
    const updates = named
      .filter(([, g]) => g != null)
      .map(([name, gradient]) => ({ variable: tf.engine().registeredVariables[name], gradient }));
    this.native ??= new NativeAdamMoments();
    this.native.apply(
      updates,
      {
        learningRate: this.learningRate,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.kerasEpsilon,
        step,
      },
      (i) => this.restoredMoments(i),
    );
    this.incrementIterations();
  }

  /**
   * Moments that `setWeights` (a checkpoint) put into tfjs's slots, to start the native ones from:
   * by position, as tfjs's Adam pairs them with the variables (a reloaded model's variables have
   * new names).
   */
  private restoredMoments(position: number): { m: tf.Tensor; v: tf.Tensor } | undefined {
    type Slot = { variable: tf.Variable };
    const own = this as unknown as {
      accumulatedFirstMoment: Slot[];
      accumulatedSecondMoment: Slot[];
    };
    const m = own.accumulatedFirstMoment[position],
      v = own.accumulatedSecondMoment[position];
    return m && v ? { m: m.variable, v: v.variable } : undefined;
  }

  /**
   * The iterations and moments, as tfjs's Adam names them
   * (`<variable>/m`, then every `<variable>/v`), wherever they live.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    if (!this.native) return super.getWeights();
    tf.dispose(this.lastRead);
    const names = this.native.names();
    const moments = names.map((n) => this.native!.moments(n));
    this.lastRead = moments.flatMap((x) => [x.m, x.v]);
    return [
      await this.saveIterations(),
      ...names.map((n, i) => ({ name: `${n}/m`, tensor: moments[i].m })),
      ...names.map((n, i) => ({ name: `${n}/v`, tensor: moments[i].v })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await super.setWeights(weightValues);
    this.restoreBetaPowers();
    this.native?.dispose();
    this.native = undefined; // the next native update starts from the restored moments
  }

  /**
   * tfjs's Adam restores β₁ᵗ⁺¹ and β₂ᵗ⁺¹ with `pow`, while training builds them by
   * one float32 multiplication per step; on webgpu the two differ in the last bits, and a resumed
   * run drifted from the uninterrupted one (1.7e-6 in the loss after 2 epochs). Rebuilt here as
   * training does.
   */
  private restoreBetaPowers(): void {
    const own = this as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    const product = (beta: number) => {
      const b = Math.fround(beta);
      let acc = b;
      for (let i = 0; i < this.iterations; i++) acc = Math.fround(acc * b);
      return acc;
    };
    tf.tidy(() => {
      own.accBeta1.assign(tf.scalar(product(this.beta1)));
      own.accBeta2.assign(tf.scalar(product(this.beta2)));
    });
  }

  override dispose(): void {
    super.dispose();
    this.native?.dispose();
    this.native = undefined;
    tf.dispose(this.lastRead);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      epsilon: this.kerasEpsilon,
      baseLearningRate: this.baseLearningRate,
      decay: this.decay,
    };
  }

  private native?: NativeAdamMoments;
  /** Moments read for the latest getWeights (released at the next call or dispose). */
  private lastRead: tf.Tensor[] = [];
}

/**
 * The learning rate a schedule or callback should read: the
 * base rate of {@link DecayedAdam}, else the optimizer's own.
 */
export function getLearningRate(optimizer: tf.Optimizer): number {
  if (optimizer instanceof DecayedAdam) return optimizer.baseLearningRate;
  const lr = (optimizer as unknown as { learningRate?: number }).learningRate;
  if (typeof lr !== "number")
    throw new Error(`${optimizer.getClassName()} has no learningRate to read`);
  return lr;
}

/** Sets the learning rate as {@link getLearningRate} reads it. */
export function setLearningRate(optimizer: tf.Optimizer, value: number): void {
  if (optimizer instanceof DecayedAdam) optimizer.baseLearningRate = value;
  else (optimizer as unknown as { learningRate: number }).learningRate = value;
}
