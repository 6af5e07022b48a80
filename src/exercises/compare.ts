import * as tf from "@tensorflow/tfjs";
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

/**
 * One experiment exercise, as {@link variantExperiment} runs it; `V` is what the reader writes
 * (a network, or a function that builds one).
 */
export interface VariantExperiment<V = tf.LayersModel> {
  /** e.g. `Exercise 1`. */
  exercise: string;
  /** What the variant is compared with (default `the book's network`). */
  baseline?: string;
  /** The reader's network; undefined while the exercise is unsolved. */
  variant: V | undefined;
  /** What the cell should do while `variant` is undefined (guidance, not the answer). */
  unsolvedHint: string;
  /** What is wrong with `variant` for this exercise, checked before any training; none: fine. */
  problem?(variant: V): string | undefined;
  /** The protocol in words, e.g. `6,000 training images, 1 epoch, seed 1`. */
  protocol: string;
  metric: string;
  higherIsBetter: boolean;
  /**
   * Trains a network under the protocol and returns its metric: the book's when `variant` is
   * undefined (built, trained and freed here), else the reader's.
   */
  score(variant?: V): Promise<number>;
  spread: SeedSpread;
  mode: RunModeName;
}

/**
 * Runs an experiment exercise: while unsolved (or when {@link VariantExperiment.problem} finds
 * something) it says so and trains nothing; otherwise it trains the book's network and the
 * reader's under the same protocol, shows their metric side by side and says whether the
 * reader's is better, no different or worse than the seed spread allows. A finished experiment
 * passes: the exercise asks for the experiment, not for a winner.
 * @returns the verdict, or undefined when nothing was trained.
 */
export async function variantExperiment<V>(e: VariantExperiment<V>): Promise<Verdict | undefined> {
  if (!e.variant) {
    checkExercise(e.exercise, false, e.unsolvedHint);
    return undefined;
  }
  const problem = e.problem?.(e.variant);
  if (problem) {
    checkExercise(e.exercise, false, problem);
    return undefined;
  }
  const baseline = e.baseline ?? "the book's network";
  console.log(`Training ${baseline}, then yours, under the same protocol ...`);
  const book = await e.score();
  const yours = await e.score(e.variant);
  const verdict = verdictOf(yours, book, e.spread, e.higherIsBetter);
  const digits = (v: number) => v.toFixed(4);
  showTable(
    [
      { network: "yours", [e.metric]: digits(yours) },
      { network: baseline, [e.metric]: digits(book) },
    ],
    { title: `${e.exercise}: ${e.protocol} (mode ${e.mode})` },
  );
  const gap = yours - book;
  console.log(
    `Your network: ${verdict.toUpperCase()} compared with ${baseline}: ${e.metric} ` +
      `${gap >= 0 ? "+" : ""}${digits(gap)}. Seed to seed ${baseline} moves by ` +
      `${digits(e.spread.sd)} under this protocol (sd over ${e.spread.seeds} seeds on ` +
      `${e.spread.backend}), so gaps within ±${digits(2 * Math.SQRT2 * e.spread.sd)} are no ` +
      "difference.",
  );
  checkExercise(e.exercise, true, "");
  return verdict;
}

/** The spread of `mode`'s protocol: smoke's in smoke mode, the default one's otherwise. */
export const spreadOf = (spreads: Record<"smoke" | "default", SeedSpread>, mode: RunModeName) =>
  spreads[mode === "smoke" ? "smoke" : "default"];

/** What a runner returns that {@link scoreRun} needs. */
interface RunOutcome {
  model: tf.LayersModel;
  record: { metrics: Record<string, number> };
  xTest?: tf.Tensor;
  yTest?: tf.Tensor;
}

/**
 * Runs `runner` with `settings` and no output folder on `model` (the library's network when
 * none: built from the run's seed and freed after) and returns `metric` of its record; the test
 * tensors the runner hands back are freed.
 */
export async function scoreRun<S>(
  runner: (settings: S, run: { progress: boolean }, model?: tf.LayersModel) => Promise<RunOutcome>,
  settings: S,
  metric: string,
  model?: tf.LayersModel,
): Promise<number> {
  const outcome = await runner(settings, { progress: false }, model);
  tf.dispose([outcome.xTest, outcome.yTest].filter((t): t is tf.Tensor => t !== undefined));
  if (!model) {
    outcome.model.optimizer?.dispose();
    outcome.model.dispose();
  }
  return outcome.record.metrics[metric];
}
