import * as assert from "assert";
import { BACKEND_NAMES, BackendName } from "advanced-neural-models";
import * as tf from "@tensorflow/tfjs";

/** Asserts |actual - expected| <= tol (absolute) with a readable message. */
export function assertClose(actual: number, expected: number, tol: number, what = "value"): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: ${actual} differs from ${expected} by more than ${tol}`,
  );
}

/**
 * The backend the backend-neutral suites train on: `CH10_TEST_BACKEND` (e.g. `tensorflow` for
 * the native build, see `npm run test:native`), else wasm, the backend every machine has.
 */
export const TEST_BACKEND: BackendName = testBackend(process.env.CH10_TEST_BACKEND ?? "wasm");

function testBackend(name: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`CH10_TEST_BACKEND="${name}": expected one of ${BACKEND_NAMES.join(", ")}`);
}

/**
 * The backends whose gradients are checked against the float64 references: wasm and cpu in the
 * default run, only the test backend in a run for another one (wasm and cpu were checked already).
 */
export const GRADIENT_BACKENDS: BackendName[] =
  TEST_BACKEND === "wasm" ? ["wasm", "cpu"] : [TEST_BACKEND];

/**
 * One regular expression from several written in order: their sources joined (a string part is
 * source as it stands, e.g. the "(" and ")?" around a group that spans parts), with the flags of
 * the first expression. Lets a long expected message be matched over several short lines.
 */
export function joinedRegExp(...parts: (RegExp | string)[]): RegExp {
  const source = parts.map((p) => (typeof p === "string" ? p : p.source)).join("");
  const first = parts.find((p): p is RegExp => p instanceof RegExp);
  return new RegExp(source, first?.flags);
}

/**
 * The values of the tensors `make` returns (made in a `tf.tidy`), read asynchronously and then
 * disposed: reads that every backend can do, Deno's own WebGPU included (it has no synchronous
 * read).
 */
export async function values(make: () => tf.Tensor[]): Promise<Float32Array[]> {
  const tensors = tf.tidy(make);
  try {
    return (await Promise.all(tensors.map((t) => t.data()))) as Float32Array[];
  } finally {
    tf.dispose(tensors);
  }
}
