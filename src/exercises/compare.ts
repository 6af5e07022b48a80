import { RunModeName } from "../core/mode";
import { checkExercise } from "../notebook/exercise";
import { showTable } from "../viz/table";

/**
 * How much a metric moves from seed to seed when the book's network is trained under an
 * exercise's protocol: its standard deviation over `seeds` seeds, measured with
 * `npm run exercise-spread` on `backend`.
 */
export interface SeedSpread {
  sd: number;
  seeds: number;
  /** Mean of the metric over the seeds. */
  mean: number;
  backend: string;
}

/** What an experiment exercise found: the variant against the book's network, same protocol. */
export type Verdict = "better" | "no different" | "worse";

/**
 * Whether `yours` is better than, no different from or worse than `book`, two runs of one
 * protocol: no different while the gap is within two standard deviations of the difference of
 * two runs (√2 · `spread.sd`), about what 95% of seed pairs stay within.
 */
export function verdictOf(
  yours: number,
  book: number,
  spread: SeedSpread,
  higherIsBetter: boolean,
): Verdict {
  const gap = (yours - book) * (higherIsBetter ? 1 : -1);
  const noise = 2 * Math.SQRT2 * spread.sd;
  return gap > noise ? "better" : gap < -noise ? "worse" : "no different";
}

/** One experiment exercise's result, as {@link reportExperiment} shows it. */
export interface ExperimentComparison {
  exercise: string;
  metric: string;
  higherIsBetter: boolean;
  /** What the protocol was, e.g. `6,000 training images, 1 epoch, seed 1`. */
  protocol: string;
  yours: number;
  book: number;
  spread: SeedSpread;
  mode: RunModeName;
}

/**
 * Shows the variant's and the book network's `metric` side by side and says whether the variant
 * is better, no different or worse than the seed spread allows (the exercise passes: it asked
 * for the experiment, not for a winner).
 */
export function reportExperiment(c: ExperimentComparison): Verdict {
  const verdict = verdictOf(c.yours, c.book, c.spread, c.higherIsBetter);
  const digits = (v: number) => v.toFixed(4);
  showTable(
    [
      { network: "yours", [c.metric]: digits(c.yours) },
      { network: "the book's", [c.metric]: digits(c.book) },
    ],
    { title: `${c.exercise}: ${c.protocol} (mode ${c.mode})` },
  );
  const gap = c.yours - c.book;
  console.log(
    `Your network: ${verdict.toUpperCase()} compared with the book's: ${c.metric} ` +
      `${gap >= 0 ? "+" : ""}${digits(gap)}. Seed to seed the book's network moves by ` +
      `${digits(c.spread.sd)} under this protocol (sd over ${c.spread.seeds} seeds on ` +
      `${c.spread.backend}), so gaps within ±${digits(2 * Math.SQRT2 * c.spread.sd)} are no ` +
      "difference.",
  );
  checkExercise(c.exercise, true, "");
  return verdict;
}
