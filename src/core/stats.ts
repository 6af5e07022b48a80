/** Median, quartiles and range of a sample, as a box plot shows them. */
export interface Summary {
  n: number;
  median: number;
  /** First and third quartiles (linear interpolation between order statistics, numpy's default). */
  q1: number;
  q3: number;
  min: number;
  max: number;
}

/** The quantile `q` (0..1) of sorted values, interpolating linearly between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("quantile: no values");
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** {@link Summary} of `values` (at least one, all finite). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v)))
    throw new Error(`summarize: need finite values, got [${values.join(", ")}]`);
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    min: s[0],
    max: s[s.length - 1],
  };
}
