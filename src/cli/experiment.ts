#!/usr/bin/env node
import * as path from "path";
import { BACKEND_NAMES, BackendName, initBackend } from "../backend/init";
import { FASHION_BOOK, FashionSettings, runFashionExperiment } from "../experiments/fashion";
import { MNIST_BOOK, MnistSettings, runMnistExperiment } from "../experiments/mnist";
import { referenceSettings } from "../experiments/reference";
import { resultsRoot } from "../experiments/record";
import { RunOptions } from "../experiments/session";
import { SUNSPOTS_BOOK, SunspotsSettings, runSunspotsExperiment } from "../experiments/sunspots";
import { summarize } from "../core/stats";

const USAGE = `Usage: npm run experiment -- <mnist|fashion|sunspots> [options]

Runs one of the chapter's experiments headless with the book's settings (the same code as the
notebooks) and writes results.json and its charts (SVG and PNG) into the output folder, with a
checkpoint after every epoch.

  --epochs N          total epochs (mnist: ${MNIST_BOOK.epochs}, fashion: ${FASHION_BOOK.epochs}, sunspots: ${SUNSPOTS_BOOK.epochs})
  --train-samples N   mnist: training images used (default ${MNIST_BOOK.trainSamples});
                      fashion: augmented batches per epoch x batch size (default ${FASHION_BOOK.batchesPerEpoch} x ${FASHION_BOOK.batchSize})
  --backend B         ${BACKEND_NAMES.join(" | ")} (default: automatic)
  --seed S            seed of initialisation, shuffling and augmentation (default 1000)
  --no-charts         write results.json only (no SVG/PNG charts)
  --reference         repeat the reference run shipped in reference/ with the settings it
                      recorded (sunspots: its seeds; output default results/experiments/<name>-reference);
                      excludes the options that set settings
  --out DIR           output folder (default results/experiments/<name>)
  --resume            continue the run checkpointed in the output folder
  --force             replace another run's results in the output folder
  sunspots only:
  --seeds A-B|A,B,..  one run per seed, each in <out>/seed-S, then the median and range of
                      the final validation MSE
  --cell lstm|gru     recurrent cell (default lstm)
  --stacked           two stacked recurrent layers (returnSequences) instead of one
  --protocol book|clean
                      book: scaler fitted on the whole series, stateful batches as the book;
                      clean: scaler fitted on the training part, state-correct batching
  --help              this text`;

type Name = "mnist" | "fashion" | "sunspots";

interface Parsed {
  name: Name;
  run: RunOptions;
  backend?: BackendName;
  epochs?: number;
  trainSamples?: number;
  seed?: number;
  seeds?: number[];
  cell?: "lstm" | "gru";
  stacked: boolean;
  protocol?: "book" | "clean";
  reference: boolean;
}

class UsageError extends Error {}

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < 1)
    throw new UsageError(
      `${flag} needs a positive whole number, got ${raw === undefined ? "nothing" : `"${raw}"`}`,
    );
  return n;
}

/** `3-7` (inclusive) or `1,5,9`: positive whole numbers, no repeats. */
function seedList(flag: string, raw: string | undefined): number[] {
  const range = /^(\d+)-(\d+)$/.exec(raw ?? "");
  const seeds = range
    ? Array.from(
        { length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) },
        (_, i) => Number(range[1]) + i,
      )
    : (raw ?? "").split(",").map((t) => positiveInt(flag, t));
  if (seeds.length === 0 || seeds[0] < 1 || new Set(seeds).size !== seeds.length)
    throw new UsageError(
      `${flag} needs a range like 1-10 or a list like 1,5,9 of distinct positive seeds, got ${raw === undefined ? "nothing" : `"${raw}"`}`,
    );
  return seeds;
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(raw as T))
    throw new UsageError(
      `${flag} must be one of ${allowed.join(", ")}, got ${raw === undefined ? "nothing" : `"${raw}"`}`,
    );
  return raw as T;
}

/** Parses the command line; throws UsageError on anything unexpected. */
export function parseExperimentArgs(argv: string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h") throw new UsageError("");
  const name = oneOf("the experiment", first, ["mnist", "fashion", "sunspots"] as const);
  const p: Parsed = {
    name,
    run: { checkpoints: true, mode: "cli" },
    stacked: false,
    reference: false,
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => rest[++i];
    const sunspotsOnly = () => {
      if (name !== "sunspots") throw new UsageError(`${flag} applies to sunspots only`);
    };
    switch (flag) {
      case "--epochs":
        p.epochs = positiveInt(flag, value());
        break;
      case "--train-samples":
        p.trainSamples = positiveInt(flag, value());
        break;
      case "--seed":
        p.seed = positiveInt(flag, value());
        break;
      case "--seeds":
        sunspotsOnly();
        p.seeds = seedList(flag, value());
        break;
      case "--no-charts":
        p.run.charts = false;
        break;
      case "--reference":
        p.reference = true;
        break;
      case "--backend":
        p.backend = oneOf(flag, value(), BACKEND_NAMES);
        break;
      case "--out": {
        const v = value();
        if (!v) throw new UsageError("--out needs a folder");
        p.run.out = v;
        break;
      }
      case "--resume":
        p.run.resume = true;
        break;
      case "--force":
        p.run.force = true;
        break;
      case "--cell":
        sunspotsOnly();
        p.cell = oneOf(flag, value(), ["lstm", "gru"] as const);
        break;
      case "--stacked":
        sunspotsOnly();
        p.stacked = true;
        break;
      case "--protocol":
        sunspotsOnly();
        p.protocol = oneOf(flag, value(), ["book", "clean"] as const);
        break;
      case "--help":
      case "-h":
        throw new UsageError("");
      default:
        throw new UsageError(`unknown option "${flag}"`);
    }
  }
  if (p.seeds && p.seed !== undefined)
    throw new UsageError("--seed and --seeds exclude each other");
  if (p.reference) {
    const setting = rest.filter((f) =>
      [
        "--epochs",
        "--train-samples",
        "--seed",
        "--seeds",
        "--cell",
        "--stacked",
        "--protocol",
      ].includes(f),
    );
    if (setting.length)
      throw new UsageError(
        `--reference takes every setting from the shipped record; drop ${setting.join(", ")}`,
      );
    p.run.out ??= path.join(resultsRoot(), "experiments", `${name}-reference`);
  }
  if (p.run.resume && p.run.force) throw new UsageError("--resume and --force exclude each other");
  if (name === "sunspots" && p.trainSamples !== undefined)
    throw new UsageError("--train-samples does not apply to sunspots (the book's split is fixed)");
  p.run.out ??= path.join(
    resultsRoot(),
    "experiments",
    name +
      (name === "sunspots"
        ? `-${p.cell ?? "lstm"}${p.stacked ? "-stacked" : ""}-${p.protocol ?? "book"}`
        : ""),
  );
  return p;
}

async function main(argv: string[]): Promise<void> {
  const p = parseExperimentArgs(argv);
  const reference = p.reference ? referenceSettings(p.name) : undefined;
  if (reference) {
    console.log(
      `repeating the shipped ${p.name} reference run: ${JSON.stringify(reference.settings)}${p.name === "sunspots" ? `, seeds ${reference.seeds.join(", ")}` : ""}`,
    );
    if (p.name === "sunspots") p.seeds = reference.seeds;
  }
  await initBackend({ backend: p.backend });
  const seed = p.seed ?? 1000;
  let summary: Record<string, number>;
  if (p.name === "mnist") {
    const s = reference
      ? (reference.settings as MnistSettings)
      : {
          ...MNIST_BOOK,
          seed,
          epochs: p.epochs ?? MNIST_BOOK.epochs,
          trainSamples: p.trainSamples ?? MNIST_BOOK.trainSamples,
        };
    const outcome = await runMnistExperiment(s, p.run);
    outcome.xTest.dispose();
    outcome.yTest.dispose();
    summary = outcome.record.metrics;
  } else if (p.name === "fashion") {
    const batchesPerEpoch = p.trainSamples
      ? Math.ceil(p.trainSamples / FASHION_BOOK.batchSize)
      : FASHION_BOOK.batchesPerEpoch;
    const s = reference
      ? (reference.settings as FashionSettings)
      : { ...FASHION_BOOK, seed, batchesPerEpoch, epochs: p.epochs ?? FASHION_BOOK.epochs };
    summary = (await runFashionExperiment(s, p.run)).record.metrics;
  } else {
    const s: SunspotsSettings = reference
      ? (reference.settings as SunspotsSettings)
      : {
          ...SUNSPOTS_BOOK,
          seed,
          epochs: p.epochs ?? SUNSPOTS_BOOK.epochs,
          cell: p.cell ?? "lstm",
          stacked: p.stacked,
          protocol: p.protocol ?? "book",
        };
    if (p.seeds) {
      const finals: number[] = [];
      for (const [i, sd] of p.seeds.entries()) {
        const out = path.join(p.run.out!, `seed-${sd}`);
        const { record } = await runSunspotsExperiment(
          { ...s, seed: sd },
          { ...p.run, out, progress: false },
        );
        finals.push(record.metrics.val_mse);
        console.log(
          `seed ${sd} (${i + 1}/${p.seeds.length}): val_mse ${record.metrics.val_mse.toFixed(4)} in ${record.timings.totalSeconds.toFixed(0)} s -> ${out}`,
        );
      }
      const d = summarize(finals);
      summary = {
        seeds: finals.length,
        median_val_mse: d.median,
        min_val_mse: d.min,
        max_val_mse: d.max,
      };
    } else {
      summary = (await runSunspotsExperiment(s, p.run)).record.metrics;
    }
  }
  for (const [k, v] of Object.entries(summary))
    console.log(`${k.padEnd(28)} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
  console.log(`results.json and charts in ${p.run.out}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof UsageError) {
      if (!e.message) {
        console.log(USAGE);
        process.exit(0);
      }
      console.error(`experiment: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`experiment: ${(e as Error).message}`);
    process.exit(1);
  });
}
