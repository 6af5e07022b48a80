#!/usr/bin/env node
import * as path from "path";
import { BackendName, initBackend } from "../backend/init";
import { FASHION_BOOK, runFashionExperiment } from "../experiments/fashion";
import { MNIST_BOOK, runMnistExperiment } from "../experiments/mnist";
import { resultsRoot } from "../experiments/record";
import { RunOptions } from "../experiments/session";
import { SUNSPOTS_BOOK, runSunspotsExperiment } from "../experiments/sunspots";

const USAGE = `Usage: npm run experiment -- <mnist|fashion|sunspots> [options]

Runs one of the chapter's experiments headless with the book's settings (the same code as the
notebooks) and writes results.json and its charts (SVG and PNG) into the output folder, with a
checkpoint after every epoch.

  --epochs N          total epochs (mnist: ${MNIST_BOOK.epochs}, fashion: ${FASHION_BOOK.epochs}, sunspots: ${SUNSPOTS_BOOK.epochs})
  --train-samples N   mnist: training images used (default ${MNIST_BOOK.trainSamples});
                      fashion: augmented batches per epoch x batch size (default ${FASHION_BOOK.batchesPerEpoch} x ${FASHION_BOOK.batchSize})
  --backend B         tensorflow | wasm | cpu (default: automatic)
  --seed S            seed of initialisation, shuffling and augmentation (default 1000)
  --out DIR           output folder (default results/experiments/<name>)
  --resume            continue the run checkpointed in the output folder
  --force             replace another run's results in the output folder
  sunspots only:
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
  cell?: "lstm" | "gru";
  stacked: boolean;
  protocol?: "book" | "clean";
}

class UsageError extends Error {}

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive whole number, got ${raw === undefined ? "nothing" : `"${raw}"`}`);
  return n;
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(raw as T)) throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got ${raw === undefined ? "nothing" : `"${raw}"`}`);
  return raw as T;
}

/** Parses the command line; throws UsageError on anything unexpected. */
export function parseExperimentArgs(argv: string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h") throw new UsageError("");
  const name = oneOf("the experiment", first, ["mnist", "fashion", "sunspots"] as const);
  const p: Parsed = { name, run: { checkpoints: true, mode: "cli" }, stacked: false };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => rest[++i];
    const sunspotsOnly = () => {
      if (name !== "sunspots") throw new UsageError(`${flag} applies to sunspots only`);
    };
    switch (flag) {
      case "--epochs": p.epochs = positiveInt(flag, value()); break;
      case "--train-samples": p.trainSamples = positiveInt(flag, value()); break;
      case "--seed": p.seed = positiveInt(flag, value()); break;
      case "--backend": p.backend = oneOf(flag, value(), ["tensorflow", "wasm", "cpu"] as const); break;
      case "--out": {
        const v = value();
        if (!v) throw new UsageError("--out needs a folder");
        p.run.out = v;
        break;
      }
      case "--resume": p.run.resume = true; break;
      case "--force": p.run.force = true; break;
      case "--cell": sunspotsOnly(); p.cell = oneOf(flag, value(), ["lstm", "gru"] as const); break;
      case "--stacked": sunspotsOnly(); p.stacked = true; break;
      case "--protocol": sunspotsOnly(); p.protocol = oneOf(flag, value(), ["book", "clean"] as const); break;
      case "--help": case "-h": throw new UsageError("");
      default: throw new UsageError(`unknown option "${flag}"`);
    }
  }
  if (p.run.resume && p.run.force) throw new UsageError("--resume and --force exclude each other");
  if (name === "sunspots" && p.trainSamples !== undefined) throw new UsageError("--train-samples does not apply to sunspots (the book's split is fixed)");
  p.run.out ??= path.join(resultsRoot(), "experiments", name + (name === "sunspots" ? `-${p.cell ?? "lstm"}${p.stacked ? "-stacked" : ""}-${p.protocol ?? "book"}` : ""));
  return p;
}

async function main(argv: string[]): Promise<void> {
  const p = parseExperimentArgs(argv);
  await initBackend({ backend: p.backend });
  const seed = p.seed ?? 1000;
  let summary: Record<string, number>;
  if (p.name === "mnist") {
    const s = { ...MNIST_BOOK, seed, epochs: p.epochs ?? MNIST_BOOK.epochs, trainSamples: p.trainSamples ?? MNIST_BOOK.trainSamples };
    const outcome = await runMnistExperiment(s, p.run);
    outcome.xTest.dispose();
    outcome.yTest.dispose();
    summary = outcome.record.metrics;
  } else if (p.name === "fashion") {
    const batchesPerEpoch = p.trainSamples ? Math.ceil(p.trainSamples / FASHION_BOOK.batchSize) : FASHION_BOOK.batchesPerEpoch;
    summary = (await runFashionExperiment({ ...FASHION_BOOK, seed, batchesPerEpoch, epochs: p.epochs ?? FASHION_BOOK.epochs }, p.run)).record.metrics;
  } else {
    const s = { ...SUNSPOTS_BOOK, seed, epochs: p.epochs ?? SUNSPOTS_BOOK.epochs, cell: p.cell ?? "lstm", stacked: p.stacked, protocol: p.protocol ?? "book" } as const;
    summary = (await runSunspotsExperiment(s, p.run)).record.metrics;
  }
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(28)} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
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
