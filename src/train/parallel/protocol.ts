/**
 * The shared memory through which the main thread and a training worker exchange one step:
 * an Int32 control block (Atomics handshake, shard size, tensor shapes, error length) followed by
 * float32 regions for the worker's input and target rows, its gradients, its non-trainable weights
 * after the step (BatchNorm moving statistics), its loss and metrics, and an error message.
 * The model's weights travel the other way through one {@link WeightBoard} shared by all workers.
 */

/** Control-block slots (Int32 indices). */
export const SLOT = {
  /** Main thread: sequence number of the last command; workers wait on it. */
  command: 0,
  /** Main thread: 1 = compute a step, 2 = exit. */
  kind: 1,
  /** Worker: sequence number of the last command it finished; the main thread waits on it. */
  done: 2,
  /** Worker: 0 when the step succeeded, 1 when it failed (message in the error region). */
  failed: 3,
  /** Main thread: rows in this step's shard. */
  rows: 4,
  /** Worker: bytes of the error message. */
  errorBytes: 5,
  /** Per-sample shapes: rank then dims, for the inputs (7..13) and the targets (14..20). */
  inputShape: 6,
  targetShape: 13,
} as const;
export const COMMAND_STEP = 1;
export const COMMAND_EXIT = 2;
const CONTROL_INTS = 24;
const MAX_RANK = 6;
const ERROR_BYTES = 4096;

/** Sizes (in floats) of one worker's regions. */
export interface ChannelLayout {
  /** Largest shard: rows of input and target the regions can hold. */
  maxRows: number;
  inputPerRow: number;
  targetPerRow: number;
  /** Total size of the trainable weights (their gradients). */
  trainable: number;
  /** Total size of the non-trainable weights (e.g. BatchNorm moving statistics). */
  nonTrainable: number;
  /** Loss and metrics. */
  outputs: number;
}

/** Views onto one worker's shared memory. */
export interface Channel {
  buffer: SharedArrayBuffer;
  control: Int32Array;
  input: Float32Array;
  target: Float32Array;
  grads: Float32Array;
  stats: Float32Array;
  outputs: Float32Array;
  error: Uint8Array;
}

/** Allocates (no `buffer`) or attaches to (given `buffer`) a worker's shared memory. */
export function channel(layout: ChannelLayout, buffer?: SharedArrayBuffer): Channel {
  const sizes = [
    layout.maxRows * layout.inputPerRow,
    layout.maxRows * layout.targetPerRow,
    layout.trainable,
    layout.nonTrainable,
    layout.outputs,
  ];
  const bytes = 4 * CONTROL_INTS + 4 * sizes.reduce((a, b) => a + b, 0) + ERROR_BYTES;
  const buf = buffer ?? new SharedArrayBuffer(bytes);
  if (buf.byteLength !== bytes)
    throw new Error(
      `data-parallel channel: shared buffer has ${buf.byteLength} bytes, layout needs ${bytes}`,
    );
  let offset = 4 * CONTROL_INTS;
  const next = (n: number) => {
    const view = new Float32Array(buf, offset, n);
    offset += 4 * n;
    return view;
  };
  const control = new Int32Array(buf, 0, CONTROL_INTS);
  const [input, target, grads, stats, outputs] = sizes.map(next);
  return {
    buffer: buf,
    control,
    input,
    target,
    grads,
    stats,
    outputs,
    error: new Uint8Array(buf, offset, ERROR_BYTES),
  };
}

/** Writes a per-sample shape into the control block at `slot`. */
export function writeShape(control: Int32Array, slot: number, shape: number[]): void {
  if (shape.length > MAX_RANK)
    throw new Error(
      `data-parallel training: tensors of rank ${shape.length + 1} are not supported ` +
        `(at most ${MAX_RANK + 1})`,
    );
  control[slot] = shape.length;
  shape.forEach((d, i) => (control[slot + 1 + i] = d));
}

/** Reads a per-sample shape written by {@link writeShape}. */
export function readShape(control: Int32Array, slot: number): number[] {
  return Array.from(control.subarray(slot + 1, slot + 1 + control[slot]));
}

/** Stores a step's error message in the channel (truncated to the region). */
export function writeError(ch: Channel, message: string): void {
  const bytes = new TextEncoder().encode(message).subarray(0, ch.error.length);
  ch.error.set(bytes);
  ch.control[SLOT.errorBytes] = bytes.length;
  ch.control[SLOT.failed] = 1;
}

/** Reads the message stored by {@link writeError}. */
export function readError(ch: Channel): string {
  return new TextDecoder().decode(ch.error.slice(0, ch.control[SLOT.errorBytes]));
}

/**
 * The model's weights, written by the main thread after every update and read by every worker
 * before its next step: a version counter followed by all weights (model.weights order) as float32.
 */
export interface WeightBoard {
  buffer: SharedArrayBuffer;
  version: Int32Array;
  values: Float32Array;
}

/** Allocates (no `buffer`) or attaches to a {@link WeightBoard} of `floats` values. */
export function weightBoard(floats: number, buffer?: SharedArrayBuffer): WeightBoard {
  const buf = buffer ?? new SharedArrayBuffer(8 + 4 * floats);
  return {
    buffer: buf,
    version: new Int32Array(buf, 0, 2),
    values: new Float32Array(buf, 8, floats),
  };
}
