import * as tf from "@tensorflow/tfjs";
import { GateActivation } from "./cells";
import {
  FusedWeights,
  RecurrentDims,
  gruBackward,
  gruForward,
  lstmBackward,
  lstmForward,
} from "./fused-math";

/** Arguments of {@link FusedRecurrent}: those of `tf.layers.lstm` / `gru` that the chapter uses. */
export interface FusedRecurrentArgs {
  cell: "lstm" | "gru";
  units: number;
  returnSequences?: boolean;
  stateful?: boolean;
  /** Gate activation (default `hardSigmoid`, as tfjs and Keras 2). */
  recurrentActivation?: GateActivation;
  /** Forget-gate bias starts at 1 (LSTM only; default false, as tfjs). */
  unitForgetBias?: boolean;
  inputShape?: number[];
  batchInputShape?: number[];
  name?: string;
}

const floats = (t: tf.Tensor) => t.dataSync() as Float32Array;

/**
 * An LSTM or GRU layer computed as **one** operation per call: the whole sequence forward, and the
 * whole back-propagation through time in its gradient, in plain TypeScript loops (`fused-math.ts`)
 * instead of tfjs's ~10 kernels per time step. Same equations, weight layout (kernel,
 * recurrentKernel, bias; gates i, f, c, o or z, r, h) and stateful semantics as `tf.layers.lstm` /
 * `tf.layers.gru`, which the tests check to 1e-5 for outputs and gradients. Initialisers are
 * Keras's (Glorot-uniform kernel, orthogonal recurrent kernel, zero bias, with the forget gate's at
 * 1 when `unitForgetBias` is set, as Keras's default is); tfjs's own layers draw the kernel from a
 * Glorot *normal* distribution instead. For small recurrent layers on the wasm and cpu backends the
 * per-kernel overhead dominates and this is several times faster; use the tfjs layers for large
 * ones or on native TensorFlow.
 */
export class FusedRecurrent extends tf.layers.Layer {
  static className = "FusedRecurrent";
  readonly cell: "lstm" | "gru";
  readonly units: number;
  readonly returnSequences: boolean;
  readonly recurrentActivation: GateActivation;
  readonly unitForgetBias: boolean;
  private kernel?: tf.LayerVariable;
  private recurrentKernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;
  private carried: tf.Tensor[] | null = null;

  constructor(args: FusedRecurrentArgs) {
    super({
      name: args.name,
      inputShape: args.inputShape,
      batchInputShape: args.batchInputShape,
    } as tf.serialization.ConfigDict);
    if (!(Number.isInteger(args.units) && args.units >= 1))
      throw new Error(`FusedRecurrent: units must be a positive integer, got ${args.units}`);
    this.cell = args.cell;
    this.units = args.units;
    this.returnSequences = args.returnSequences ?? false;
    this._stateful = args.stateful ?? false;
    this.recurrentActivation = args.recurrentActivation ?? "hardSigmoid";
    this.unitForgetBias = args.unitForgetBias ?? false;
  }

  private get gates(): number {
    return this.cell === "lstm" ? 4 : 3;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputs = shape[shape.length - 1] as number;
    const cols = this.gates * this.units;
    this.kernel = this.addWeight(
      "kernel",
      [inputs, cols],
      "float32",
      tf.initializers.glorotUniform({}),
    );
    this.recurrentKernel = this.addWeight(
      "recurrent_kernel",
      [this.units, cols],
      "float32",
      tf.initializers.orthogonal({}),
    );
    const u = this.units;
    this.bias = this.addWeight("bias", [cols], "float32", tf.initializers.zeros());
    if (this.unitForgetBias && this.cell === "lstm") {
      const ones = tf.tensor1d(
        Array.from({ length: cols }, (_, j) => (j >= u && j < 2 * u ? 1 : 0)),
      );
      this.bias.write(ones);
      ones.dispose();
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return this.returnSequences ? [s[0], s[1], this.units] : [s[0], this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [B, T] = x.shape;
      const U = this.units,
        lstm = this.cell === "lstm";
      const initial =
        this.stateful && this.carried && this.carried[0].shape[0] === B
          ? this.carried
          : lstm
            ? [tf.zeros([B, U]), tf.zeros([B, U])]
            : [tf.zeros([B, U])];
      const out = this.fused(x, initial);
      const hs = tf.reshape(tf.slice(out, [0, 0], [B, T * U]), [B, T, U]);
      if (this.stateful) {
        const next = lstm
          ? [tf.slice(out, [0, T * U], [B, U]), tf.slice(out, [0, T * U + U], [B, U])]
          : [tf.slice(out, [0, T * U], [B, U])];
        const previous = this.carried;
        this.carried = next.map((t) => tf.keep(t.clone()));
        if (previous) tf.dispose(previous);
      }
      return this.returnSequences ? hs : tf.reshape(tf.slice(hs, [0, T - 1, 0], [B, 1, U]), [B, U]);
    });
  }

  /** One customGrad op: `[B, T·U + states·U]` holding every h_t, then the final h (and c). */
  private fused(x: tf.Tensor3D, initial: tf.Tensor[]): tf.Tensor2D {
    const lstm = this.cell === "lstm";
    const gate = this.recurrentActivation;
    const [B, T, D] = x.shape;
    const U = this.units;
    const d: RecurrentDims = { batch: B, steps: T, inputs: D, units: U };
    const op = tf.customGrad(((
      xs: tf.Tensor,
      k: tf.Tensor,
      r: tf.Tensor,
      b: tf.Tensor,
      h0: tf.Tensor,
      c0: tf.Tensor,
    ) => {
      const w: FusedWeights = { kernel: floats(k), recurrent: floats(r), bias: floats(b) };
      const xv = floats(xs);
      const width = T * U + (lstm ? 2 : 1) * U;
      const value = new Float32Array(B * width);
      const lstmTrace = lstm ? lstmForward(d, w, xv, floats(h0), floats(c0), gate) : undefined;
      const gruTrace = lstm ? undefined : gruForward(d, w, xv, floats(h0), gate);
      const hAll = lstmTrace?.h ?? gruTrace!.h;
      for (let bi = 0; bi < B; bi++) {
        value.set(hAll.subarray(bi * T * U, (bi + 1) * T * U), bi * width);
        value.set(hAll.subarray(bi * T * U + (T - 1) * U, (bi + 1) * T * U), bi * width + T * U);
        if (lstmTrace)
          value.set(
            lstmTrace.c.subarray(bi * T * U + (T - 1) * U, (bi + 1) * T * U),
            bi * width + T * U + U,
          );
      }
      const gradFunc = (dy: tf.Tensor) => {
        const dv = floats(dy);
        const dh = new Float32Array(B * T * U);
        const dLastC = new Float32Array(B * U);
        for (let bi = 0; bi < B; bi++) {
          dh.set(dv.subarray(bi * width, bi * width + T * U), bi * T * U);
          for (let j = 0; j < U; j++)
            dh[bi * T * U + (T - 1) * U + j] += dv[bi * width + T * U + j];
          if (lstm)
            dLastC.set(dv.subarray(bi * width + T * U + U, bi * width + T * U + 2 * U), bi * U);
        }
        if (lstm && dLastC.some((v) => v !== 0))
          throw new Error(
            "FusedRecurrent: gradients through the final cell state are not supported " +
              "(it only carries state between batches)",
          );
        const g = lstm
          ? lstmBackward(d, w, xv, lstmTrace!, dh, gate)
          : gruBackward(d, w, xv, gruTrace!, dh, gate);
        return [
          tf.tensor3d(g.dx, [B, T, D]),
          tf.tensor2d(g.dKernel, k.shape as [number, number]),
          tf.tensor2d(g.dRecurrent, r.shape as [number, number]),
          tf.tensor1d(g.dBias),
          tf.tensor2d(g.dh0, [B, U]),
          tf.zeros(c0.shape),
        ]; // c0 itself may be released by now: only its shape is used
      };
      return { value: tf.tensor2d(value, [B, width]), gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return op(
      x,
      this.kernel!.read(),
      this.recurrentKernel!.read(),
      this.bias!.read(),
      initial[0],
      initial[1] ?? tf.zeros([B, U]),
    ) as tf.Tensor2D;
  }

  override resetStates(): void {
    if (this.carried) tf.dispose(this.carried);
    this.carried = null;
  }

  /**
   * The carried states (h, and c for the LSTM) of a stateful
   * layer, or null before the first batch / after resetStates.
   */
  get states(): tf.Tensor[] | null {
    return this.carried;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      cell: this.cell,
      units: this.units,
      returnSequences: this.returnSequences,
      stateful: this.stateful,
      recurrentActivation: this.recurrentActivation,
      unitForgetBias: this.unitForgetBias,
    };
  }
}
tf.serialization.registerClass(FusedRecurrent);

/** A fused LSTM or GRU layer (see {@link FusedRecurrent}). */
export function fusedRecurrent(args: FusedRecurrentArgs): FusedRecurrent {
  return new FusedRecurrent(args);
}

/**
 * Keras 2's `LSTM(units, ...)` as the chapter uses it, in one operation per call: a
 * {@link FusedRecurrent} LSTM with the forget-gate bias starting at 1 (Keras's `unit_forget_bias`)
 * and hard-sigmoid gates. `fusedLstm({ units: 4, stateful: true, batchInputShape: [20, 15, 1] })`
 * is the book's `LSTM(4, stateful=True, batch_input_shape=(20, 15, 1))`.
 */
export function fusedLstm(args: Omit<FusedRecurrentArgs, "cell">): FusedRecurrent {
  return new FusedRecurrent({ unitForgetBias: true, ...args, cell: "lstm" });
}

/** Keras 2's `GRU(units, ...)` in one operation per call (see {@link fusedLstm}). */
export function fusedGru(
  args: Omit<FusedRecurrentArgs, "cell" | "unitForgetBias">,
): FusedRecurrent {
  return new FusedRecurrent({ ...args, cell: "gru" });
}
