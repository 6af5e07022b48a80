import * as tf from "@tensorflow/tfjs";
import { OpAttr, runTfOp } from "./ops";

let resources = 0;

/**
 * A TensorFlow resource variable of one float32 tensor
 * (`VarHandleOp`), reachable from tfjs through its handle tensor.
 */
class ResourceVariable {
  private readonly handle: tf.Tensor;

  constructor(initial: tf.Tensor) {
    const attrs: Record<string, OpAttr> = {
      dtype: ["type", "float32"],
      shape: ["shape", initial.shape],
      container: ["string", ""],
      shared_name: ["string", `ch10_adam_${process.pid}_${resources++}`],
    };
    this.handle = tf.keep(runTfOp("VarHandleOp", attrs, [], 1)[0]);
    this.write(initial);
  }

  /**
   * Replaces the value (TensorFlow shares the buffer
   * and copies it before the next in-place update).
   */
  write(value: tf.Tensor): void {
    runTfOp("AssignVariableOp", { dtype: ["type", "float32"] }, [this.handle, value], 0);
  }

  /** The current value, as a new tensor of the current scope. */
  read(): tf.Tensor {
    return runTfOp("ReadVariableOp", { dtype: ["type", "float32"] }, [this.handle], 1)[0];
  }

  get input(): tf.Tensor {
    return this.handle;
  }

  dispose(): void {
    runTfOp("DestroyResourceOp", { ignore_lookup_error: ["bool", true] }, [this.handle], 0);
    this.handle.dispose();
  }
}

/** Adam's hyper-parameters for one update, in Keras's (and TensorFlow's) form. */
export interface AdamStep {
  learningRate: number;
  beta1: number;
  beta2: number;
  /** Added to √v before the bias correction, as Keras does. */
  epsilon: number;
  /** The update's number, counting from 1 (the bias corrections use β^step). */
  step: number;
}

/** One variable's gradient, as tfjs optimizers receive it. */
export interface VariableGradient {
  variable: tf.Variable;
  gradient: tf.Tensor;
}

/**
 * Adam on native TensorFlow as one fused kernel per variable (`ResourceApplyAdam`, the op Keras's
 * compiled graph runs), instead of tfjs's ~14 element-wise operations per variable, each a full
 * pass over the weights with a new buffer. The moments live in TensorFlow resource variables keyed
 * by variable name; the tfjs variables stay the source of truth for the weights (each update copies
 * the value in, applies, and reads it back), so `setWeights`, checkpoints and layers see ordinary
 * tfjs tensors. Update: `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`,
 * `w −= lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε)`.
 */
export class NativeAdamMoments {
  private readonly slots = new Map<
    string,
    { weight: ResourceVariable; m: ResourceVariable; v: ResourceVariable }
  >();

  /**
   * Applies one Adam update to every variable; `initial(i)` gives the i-th
   * update's moments the first time its variable is seen (default zeros).
   */
  apply(
    updates: VariableGradient[],
    h: AdamStep,
    initial: (position: number) => { m: tf.Tensor; v: tf.Tensor } | undefined = () => undefined,
  ): void {
    tf.tidy(() => {
      const scalars = [
        h.beta1 ** h.step,
        h.beta2 ** h.step,
        h.learningRate,
        h.beta1,
        h.beta2,
        h.epsilon,
      ].map((x) => tf.scalar(x));
      for (const [position, { variable, gradient }] of updates.entries()) {
        let slot = this.slots.get(variable.name);
        if (!slot) {
          const start = initial(position);
          slot = {
            weight: new ResourceVariable(variable),
            m: new ResourceVariable(start?.m ?? tf.zerosLike(variable)),
            v: new ResourceVariable(start?.v ?? tf.zerosLike(variable)),
          };
          this.slots.set(variable.name, slot);
        } else {
          slot.weight.write(variable);
        }
        runTfOp(
          "ResourceApplyAdam",
          { T: ["type", "float32"], use_locking: ["bool", false], use_nesterov: ["bool", false] },
          [slot.weight.input, slot.m.input, slot.v.input, ...scalars, gradient],
          0,
        );
        variable.assign(slot.weight.read());
      }
    });
  }

  /** Names of the variables with moments, in the order they were first updated. */
  names(): string[] {
    return [...this.slots.keys()];
  }

  /** The first and second moments of a variable, as new tensors (the caller disposes them). */
  moments(name: string): { m: tf.Tensor; v: tf.Tensor } {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`NativeAdamMoments: no moments for variable "${name}"`);
    return { m: slot.m.read(), v: slot.v.read() };
  }

  dispose(): void {
    for (const slot of this.slots.values())
      for (const r of [slot.weight, slot.m, slot.v]) r.dispose();
    this.slots.clear();
  }
}
