/**
 * A command-line number: decimal digits only (so `0x10`, `1e9`, `2.5` and `-1` are refused, which
 * `Number()` would take) within `min..max`.
 * @returns the number, or the message naming the option, what was given and what is allowed.
 */
export function decimalInRange(
  option: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | string {
  const shown = raw === undefined ? "nothing" : `"${raw}"`;
  const n = raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  return `${option} needs a whole number from ${min} to ${max} (decimal digits), got ${shown}`;
}
