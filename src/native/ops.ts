import * as tf from "@tensorflow/tfjs";

/**
 * Runs a TensorFlow op by name on tfjs-node's `tensorflow` backend, the one way kernels.ts and
 * batchnorm.ts (in this folder) reach TensorFlow kernels that tfjs-node does not wrap.
 */

/** An op attribute: its kind and value (`type` takes a tfjs dtype). */
export type OpAttr =
  | ["type", "float32" | "int32"]
  | ["float", number]
  | ["int", number]
  | ["string", string]
  | ["bool", boolean]
  | ["shape", number[]];

/** The parts of tfjs-node's backend object used here. */
interface NodeBackend {
  binding: Record<
    | "TF_ATTR_TYPE"
    | "TF_ATTR_FLOAT"
    | "TF_ATTR_INT"
    | "TF_ATTR_STRING"
    | "TF_ATTR_BOOL"
    | "TF_ATTR_SHAPE"
    | "TF_FLOAT"
    | "TF_INT32",
    number
  >;
  executeMultipleOutputs(
    name: string,
    attrs: { name: string; type: number; value: unknown }[],
    inputs: tf.TensorInfo[],
    numOutputs: number,
  ): tf.Tensor[];
}

/**
 * Executes TensorFlow's `name` on `inputs` with `attrs` on the active (tensorflow) backend and
 * returns its first `numOutputs` outputs as tensors of the current scope (none for ops that only
 * change state, such as `AssignVariableOp`).
 */
export function runTfOp(
  name: string,
  attrs: Record<string, OpAttr>,
  inputs: tf.TensorInfo[],
  numOutputs = 1,
): tf.Tensor[] {
  const backend = tf.backend() as unknown as NodeBackend;
  const b = backend.binding;
  const code = {
    type: b.TF_ATTR_TYPE,
    float: b.TF_ATTR_FLOAT,
    int: b.TF_ATTR_INT,
    string: b.TF_ATTR_STRING,
    bool: b.TF_ATTR_BOOL,
    shape: b.TF_ATTR_SHAPE,
  };
  const list = Object.entries(attrs).map(([attrName, [kind, value]]) => ({
    name: attrName,
    type: code[kind],
    value: kind === "type" ? (value === "int32" ? b.TF_INT32 : b.TF_FLOAT) : value,
  }));
  return backend.executeMultipleOutputs(name, list, inputs, numOutputs);
}
