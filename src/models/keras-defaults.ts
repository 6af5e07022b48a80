/**
 * Keras's defaults that the book's scripts relied on without writing them down, and where Keras 3
 * and tfjs differ from them. The pack's models and optimizer use the Keras 2 column; the Keras 3
 * script of the sunspot comparison (`bench/keras_sunspots.py`) sets the same ones explicitly.
 */

/**
 * Keras's (2 and 3) kernel initializer of Dense, Conv2D
 * and recurrent layers; tfjs's is `glorotNormal`.
 */
export const KERAS_KERNEL_INITIALIZER = "glorotUniform";

/**
 * Keras 2's hard sigmoid, the default gate activation
 * of its LSTM and GRU: clip(0.2·x + 0.5, 0, 1).
 */
export const KERAS2_HARD_SIGMOID_SLOPE = 0.2;

/**
 * Keras 3's `hard_sigmoid`: clip(x/6 + 0.5, 0, 1) (its LSTM gates default to the logistic sigmoid).
 */
export const KERAS3_HARD_SIGMOID_SLOPE = 1 / 6;

/**
 * One default: what the book's Keras 2 used, what Keras 3 and tfjs use, and what this pack uses.
 */
export interface DefaultRow {
  setting: string;
  /** Keras 2.1/2.2, as the book ran (the reference). */
  keras2: string;
  keras3: string;
  tfjs: string;
  /** This pack's models and optimizer. */
  pack: string;
  /** The Keras 3 comparison script (`bench/keras_sunspots.py`). */
  kerasScript: string;
}

/**
 * Every default of the book's layers and optimizer that one of the engines changes, and the
 * value each side uses. Checked by the tests against the code (initialisers, slopes, epsilon).
 */
export const KERAS2_DEFAULTS: DefaultRow[] = [
  {
    setting: "Dense / Conv2D kernel initializer",
    keras2: "glorot_uniform",
    keras3: "glorot_uniform",
    tfjs: "glorotNormal",
    pack: "glorotUniform",
    kerasScript: "glorot_uniform (default)",
  },
  {
    setting: "LSTM kernel initializer",
    keras2: "glorot_uniform",
    keras3: "glorot_uniform",
    tfjs: "glorotNormal",
    pack: "glorotUniform",
    kerasScript: "glorot_uniform (default)",
  },
  {
    setting: "LSTM recurrent initializer",
    keras2: "orthogonal",
    keras3: "orthogonal",
    tfjs: "orthogonal",
    pack: "orthogonal",
    kerasScript: "orthogonal (default)",
  },
  {
    setting: "LSTM forget-gate bias (unit_forget_bias)",
    keras2: "1 (True)",
    keras3: "1 (True)",
    tfjs: "0 (unitForgetBias off)",
    pack: "1",
    kerasScript: "1 (default)",
  },
  {
    setting: "LSTM gate activation",
    keras2: "hard_sigmoid, slope 0.2",
    keras3: "sigmoid (its hard_sigmoid: slope 1/6)",
    tfjs: "hardSigmoid, slope 0.2",
    pack: "hard sigmoid, slope 0.2",
    kerasScript: "clip(0.2x + 0.5, 0, 1), set explicitly",
  },
  {
    setting: "Adam epsilon",
    keras2: "1e-7 (K.epsilon(); 1e-8 before 2.1.3)",
    keras3: "1e-7",
    tfjs: "1e-7 (backend epsilon)",
    pack: "1e-7",
    kerasScript: "1e-7 (default)",
  },
  {
    setting: "Adam epsilon placement",
    keras2: "lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)",
    keras3: "as Keras 2",
    tfjs: "lr · m̂/(√v̂ + ε)",
    pack: "as Keras 2 (ε/√(1−β₂ᵗ) given to tfjs)",
    kerasScript: "as Keras 2 (built in)",
  },
  {
    setting: "Adam decay",
    keras2: "lr/(1 + decay·t)",
    keras3: "no argument",
    tfjs: "no argument",
    pack: "DecayedAdam: lr/(1 + decay·t)",
    kerasScript: "InverseTimeDecay(lr, 1, decay)",
  },
  {
    setting: "Adam β₁, β₂",
    keras2: "0.9, 0.999",
    keras3: "0.9, 0.999",
    tfjs: "0.9, 0.999",
    pack: "0.9, 0.999",
    kerasScript: "0.9, 0.999 (default)",
  },
  {
    setting: "BatchNormalization momentum, epsilon",
    keras2: "0.99, 1e-3",
    keras3: "0.99, 1e-3",
    tfjs: "0.99, 1e-3",
    pack: "0.99, 1e-3",
    kerasScript: "-",
  },
  {
    setting: "stateful LSTM state between epochs and through validation",
    keras2: "carried, never reset by fit; validation batches advance it",
    keras3: "as Keras 2",
    tfjs: "as Keras 2",
    pack: "as Keras 2",
    kerasScript: "as Keras 2 (built in)",
  },
];
