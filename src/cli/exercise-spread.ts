#!/usr/bin/env node
import { initBackend } from "../backend/init";
import { summarize } from "../core/stats";
import { mnistExerciseSettings } from "../experiments/mnist";
import { sunspotsExerciseSettings } from "../experiments/sunspots";
import { exerciseAccuracy } from "../exercises/convolution";
import { exerciseValMse } from "../exercises/recurrent";
import { mnistCnn } from "../models/cnn";
import { decimalInRange } from "../core/numbers";
import { refuseRunMode } from "./no-run-mode";

const USAGE = `Usage: npm run exercise-spread -- [--seeds N] [--only mnist|sunspots]

Trains the book's network of each experiment exercise (05: MNIST, 09: sunspots) under the
exercise protocol of smoke and default mode with seeds 1..N (default 5) on the backend that
initBackend picks (CH10_BACKEND chooses), and prints each protocol's mean and standard
deviation as the SeedSpread literals of src/exercises/convolution.ts and recurrent.ts.`;

async function main(argv: string[]): Promise<void> {
  refuseRunMode("exercise-spread", "it measures both the smoke and the default protocol");
  let seeds = 5;
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return;
    } else if (a === "--seeds") {
      const n = decimalInRange("--seeds", argv[++i], 2, 100);
      if (typeof n === "string") throw new Error(`exercise-spread: ${n}`);
      seeds = n;
    } else if (a === "--only" && ["mnist", "sunspots"].includes(argv[i + 1])) only = argv[++i];
    else throw new Error(`exercise-spread: unknown option ${a}\n${USAGE}`);
  }
  const backend = await initBackend();
  for (const mode of ["smoke", "default"] as const) {
    if (only !== "sunspots") {
      const values: number[] = [];
      for (let seed = 1; seed <= seeds; seed++)
        values.push(await exerciseAccuracy(mnistCnn(), mnistExerciseSettings(mode, seed), true));
      report("mnist", mode, values, backend.name);
    }
    if (only !== "mnist") {
      const values: number[] = [];
      for (let seed = 1; seed <= seeds; seed++)
        values.push(await exerciseValMse(sunspotsExerciseSettings(mode, seed)));
      report("sunspots", mode, values, backend.name);
    }
  }
}

function report(name: string, mode: string, values: number[], backend: string): void {
  summarize(values); // refuses a non-finite value
  const mean = values.reduce((t, v) => t + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((t, v) => t + (v - mean) ** 2, 0) / (values.length - 1));
  console.log(
    `${name} ${mode}: ${mode}: { sd: ${sd.toPrecision(2)}, mean: ${mean.toPrecision(4)}, ` +
      `seeds: ${values.length}, backend: "${backend}" }, // ${values.map((v) => v.toFixed(4)).join(" ")}`,
  );
}

main(process.argv.slice(2)).catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
