import * as assert from "assert";

/** Asserts |actual - expected| <= tol (absolute) with a readable message. */
export function assertClose(actual: number, expected: number, tol: number, what = "value"): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} differs from ${expected} by more than ${tol}`);
}
