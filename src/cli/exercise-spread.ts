#!/usr/bin/env node
import * as fs from "fs";
import { initBackend } from "../backend/init";
import { RunModeName } from "../core/mode";
import { decimalInRange } from "../core/numbers";
import { summarize } from "../core/stats";
import { loadMnist } from "../data/mnist";
import { selectClasses } from "../data/subsets";
import { mnistExerciseSettings } from "../experiments/mnist";
import { fashionExerciseSettings } from "../experiments/fashion";
import { sunspotsExerciseSettings } from "../experiments/sunspots";
import { exerciseAccuracy } from "../exercises/convolution";
import {
  addingExerciseSettings,
  exerciseAddingMse,
  exerciseCleanAccuracy,
  exerciseTransferAccuracy,
  exerciseValMse,
  pretrainExerciseBase,
  transferExerciseSettings,
} from "../exercises/recurrent";
import { refuseRunMode } from "./no-run-mode";

const EXERCISES = ["mnist", "fashion", "adding", "sunspots", "transfer"] as const;
type Exercise = (typeof EXERCISES)[number];

const USAGE = `Usage: npm run exercise-spread -- [--seeds N] [--only ${EXERCISES.join("|")}]

Trains the baseline network of each experiment exercise (05 mnist, 06 fashion, 08 adding, 09
sunspots, 10 transfer) under the exercise protocol of smoke and default mode with seeds 1..N
(default 5) on the backend that initBackend picks (CH10_BACKEND chooses), and prints each
protocol's mean and standard deviation as the SeedSpread literals of src/exercises/.
For transfer it first pre-trains a base on digits 0-4 as notebook 10 does in that mode.`;

/** The temporary base folders made for transfer, removed when the command ends. */
const made: string[] = [];

/** The baseline's metric under exercise `name`'s protocol in `mode` with `seed`. */
function scorer(name: Exercise, mode: RunModeName): Promise<(seed: number) => Promise<number>> {
  switch (name) {
    case "mnist":
      return Promise.resolve((seed) => exerciseAccuracy(mnistExerciseSettings(mode, seed)));
    case "fashion":
      return Promise.resolve((seed) => exerciseCleanAccuracy(fashionExerciseSettings(mode, seed)));
    case "adding":
      // the exercise compares log10 MSEs (MSEs near 0 differ by factors)
      return Promise.resolve(async (seed) =>
        Math.log10(await exerciseAddingMse(addingExerciseSettings(mode, seed))),
      );
    case "sunspots":
      return Promise.resolve((seed) => exerciseValMse(sunspotsExerciseSettings(mode, seed)));
    case "transfer":
      return pretrainExerciseBase(mode).then((dir) => {
        made.push(dir);
        const second = selectClasses(loadMnist("train"), [5, 6, 7, 8, 9]);
        const test = selectClasses(loadMnist("test"), [5, 6, 7, 8, 9], {
          perClass: mode === "smoke" ? 50 : 200,
        });
        return (seed: number) =>
          exerciseTransferAccuracy(dir, second, test, transferExerciseSettings(mode, seed));
      });
  }
}

async function main(argv: string[]): Promise<void> {
  refuseRunMode("exercise-spread", "it measures both the smoke and the default protocol");
  let seeds = 5;
  let only: Exercise | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return;
    } else if (a === "--seeds") {
      const n = decimalInRange("--seeds", argv[++i], 2, 100);
      if (typeof n === "string") throw new Error(`exercise-spread: ${n}`);
      seeds = n;
    } else if (a === "--only") {
      const v = argv[++i];
      if (!(EXERCISES as readonly string[]).includes(v))
        throw new Error(`exercise-spread: --only needs one of ${EXERCISES.join(", ")}, got ${v}`);
      only = v as Exercise;
    } else throw new Error(`exercise-spread: unknown option ${a}\n${USAGE}`);
  }
  const backend = await initBackend();
  for (const name of EXERCISES.filter((e) => !only || e === only))
    for (const mode of ["smoke", "default"] as const) {
      const score = await scorer(name, mode);
      const values: number[] = [];
      for (let seed = 1; seed <= seeds; seed++) values.push(await score(seed));
      report(name, mode, values, backend.name);
    }
}

function report(name: string, mode: string, values: number[], backend: string): void {
  summarize(values); // refuses a non-finite value
  const mean = values.reduce((t, v) => t + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((t, v) => t + (v - mean) ** 2, 0) / (values.length - 1));
  console.log(
    `${name}: // seeds 1-${values.length}: ${values.map((v) => v.toFixed(4)).join(" ")}\n` +
      `  ${mode}: { sd: ${sd.toPrecision(2)}, mean: ${mean.toPrecision(4)}, ` +
      `seeds: ${values.length}, backend: "${backend}" },`,
  );
}

main(process.argv.slice(2))
  .catch((e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
