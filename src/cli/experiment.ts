#!/usr/bin/env node
import * as fs from "fs";
import * as path from "path";
import { BACKEND_NAMES, BackendName, initBackend } from "../backend/init";
import { MODE_ENV, RunModeName, runMode } from "../core/mode";
import { summarize } from "../core/stats";
import {
  FASHION_BOOK,
  FASHION_RULES,
  FashionSettings,
  fashionSettings,
  runFashionExperiment,
} from "../experiments/fashion";
import {
  MNIST_BOOK,
  MNIST_RULES,
  MnistSettings,
  mnistSettings,
  runMnistExperiment,
} from "../experiments/mnist";
import { SettingRules, checkSettings } from "../experiments/settings-check";
import { loadSunspots } from "../data/sunspots";
import {
  checkOutputFolder,
  checkResultsRoot,
  lockOutputFolder,
} from "../experiments/output-folder";
import { ExperimentRecord, readRecord, resultsRoot, versions } from "../experiments/record";
import { referenceSettings } from "../experiments/reference-runs";
import { RunOptions, checkpointDir, preflightRun } from "../experiments/session";
import {
  SUNSPOTS_BOOK,
  SUNSPOTS_RULES,
  checkWindows,
  SunspotsSettings,
  runSunspotsExperiment,
  sunspotsSettings,
  variantName,
} from "../experiments/sunspots";
import {
  CheckpointMeta,
  assertCheckpointTarget,
  readMeta,
  recoverCheckpoint,
} from "../train/checkpoint";

/** The most epochs one run may ask for. */
const MAX_EPOCHS = 10000;
/** The largest seed (the seeded generators take 32-bit signed seeds). */
const MAX_SEED = 2 ** 31 - 1;
/** The most seeds one `--seeds` study may run. */
const MAX_SEEDS = 1000;
/** mnist --train-samples: at most the canonical training set, which the book uses whole. */
const MNIST_TRAIN_IMAGES = MNIST_BOOK.trainSamples;
/** fashion --train-samples: augmented samples per epoch, at most the book's epoch. */
const FASHION_EPOCH_SAMPLES = FASHION_BOOK.batchesPerEpoch * FASHION_BOOK.batchSize;
/** The study's record in `--out` of a `--seeds` run (each seed's results.json is in seed-S/). */
const SUMMARY_FILE = "summary.json";

/** The book's epochs of each experiment, for the usage text. */
const BOOK_EPOCHS =
  `mnist: ${MNIST_BOOK.epochs}, fashion: ${FASHION_BOOK.epochs}, ` +
  `sunspots: ${SUNSPOTS_BOOK.epochs}`;
/** The usage text's line on fashion's --train-samples. */
const FASHION_SAMPLES_HELP =
  "fashion: augmented batches per epoch x batch size " +
  `(default and most ${FASHION_BOOK.batchesPerEpoch} x ${FASHION_BOOK.batchSize})`;
/** The default output folder of a --reference run, as the usage text names it. */
const REFERENCE_OUT = "results/experiments/<name>-reference";

const USAGE = `Usage: npm run experiment -- <mnist|fashion|sunspots> [options]

Runs one of the chapter's experiments headless with the book's settings (the same code as the
notebooks) and writes results.json and its charts (SVG and PNG) into the output folder, with a
checkpoint after every epoch. With ${MODE_ENV}=smoke|default|full set, it takes that notebook run
mode's settings instead of the book's; the options below override either.

  --epochs N          total epochs, at most ${MAX_EPOCHS} (${BOOK_EPOCHS})
  --train-samples N   mnist: training images used (default and most ${MNIST_TRAIN_IMAGES});
                      ${FASHION_SAMPLES_HELP}
  --backend B         ${BACKEND_NAMES.join(" | ")} (default: automatic)
  --seed S            seed of initialisation, shuffling and augmentation (default 1000)
  --set KEY=VALUE     any setting (repeatable), e.g. --set learningRate=0.0005, --set units=8,
                      --set rotationRange=20; checked before any work against what it may be
                      (an unknown KEY is refused with the list of settings)
  --no-charts         write results.json only (no SVG/PNG charts)
  --reference         repeat the reference run shipped in reference/ with the settings it
                      recorded (sunspots: its seeds; output default ${REFERENCE_OUT});
                      excludes the options that set settings, and ${MODE_ENV}
  --out DIR           output folder (default results/experiments/<name>); one run at a time
  --resume            continue the run checkpointed in the output folder (a --seeds study:
                      keep its finished seeds, continue the interrupted one, run the rest)
  --reset-optimizer   with --resume: start the optimizer's state (moments, step count) afresh,
                      e.g. when the checkpoint's optimizer files are lost
  --force             replace another run's results in the output folder
  sunspots only:
  --seeds A-B|A,B,..  one run per seed (at most ${MAX_SEEDS}), each in <out>/seed-S, then the median
                      and range of the final validation MSE in <out>/${SUMMARY_FILE}
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
  /** Whether `run.out` is the default under the results folder (no --out). */
  defaultOut: boolean;
  /** The setting options given, as typed (`--epochs 2`), for the settings line. */
  given: string[];
  backend?: BackendName;
  epochs?: number;
  trainSamples?: number;
  seed?: number;
  seeds?: number[];
  cell?: "lstm" | "gru";
  stacked: boolean;
  protocol?: "book" | "clean";
  reference: boolean;
  /** `--set KEY=VALUE` settings, in order. */
  set: [string, number | boolean | string][];
}

/** A bad command line: printed with the usage, exit code 2. */
class UsageError extends Error {}
/** A bad environment variable: printed alone, exit code 2 (as the other commands do). */
class SettingError extends Error {}

const shown = (raw: string | undefined) => (raw === undefined ? "nothing" : `"${raw}"`);

/** A decimal whole number 1..`max` (no signs, exponents, hex or fractions). */
function wholeNumber(flag: string, raw: string | undefined, max: number, limit: string): number {
  if (raw === undefined || !/^[0-9]+$/.test(raw) || Number(raw) < 1)
    throw new UsageError(
      `${flag} needs a positive whole number in decimal digits, got ${shown(raw)}`,
    );
  const n = Number(raw);
  if (n > max) throw new UsageError(`${flag} ${raw} is more than ${max} (${limit})`);
  return n;
}

const seedNumber = (flag: string, raw: string | undefined) =>
  wholeNumber(flag, raw, MAX_SEED, "the largest seed, 2**31-1");

/** `3-7` (inclusive) or `1,5,9`: distinct positive seeds, at most {@link MAX_SEEDS}. */
function seedList(flag: string, raw: string | undefined): number[] {
  const bad = () =>
    new UsageError(
      `${flag} needs a range like 1-10 or a list like 1,5,9 of distinct positive seeds, ` +
        `got ${shown(raw)}`,
    );
  const range = /^([0-9]+)-([0-9]+)$/.exec(raw ?? "");
  let seeds: number[];
  if (range) {
    const [first, last] = [seedNumber(flag, range[1]), seedNumber(flag, range[2])];
    if (last < first) throw bad();
    if (last - first + 1 > MAX_SEEDS)
      throw new UsageError(
        `${flag} ${raw} is ${last - first + 1} seeds; a study runs at most ${MAX_SEEDS}`,
      );
    seeds = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  } else {
    if (raw === undefined || raw === "") throw bad();
    seeds = raw.split(",").map((t) => seedNumber(flag, t));
    if (new Set(seeds).size !== seeds.length) throw bad();
    if (seeds.length > MAX_SEEDS)
      throw new UsageError(
        `${flag} lists ${seeds.length} seeds; a study runs at most ${MAX_SEEDS}`,
      );
  }
  return seeds;
}

/**
 * `KEY=VALUE` of `--set`: the value a decimal number, `true`/`false`, or else a string (the
 * runner's check says whether the setting takes it).
 */
function settingValue(raw: string | undefined): [string, number | boolean | string] {
  const m = /^([A-Za-z]\w*)=(.+)$/.exec(raw ?? "");
  if (!m)
    throw new UsageError(`--set needs KEY=VALUE (e.g. learningRate=0.0005), got ${shown(raw)}`);
  const [, key, v] = m;
  if (["cell", "stacked", "protocol"].includes(key))
    throw new UsageError(`--set ${key}: use --${key}, which also names the default output folder`);
  if (v.trim() !== "" && Number.isFinite(Number(v)) && !/^0x/i.test(v)) return [key, Number(v)];
  if (v === "true" || v === "false") return [key, v === "true"];
  return [key, v];
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(raw as T))
    throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got ${shown(raw)}`);
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
    defaultOut: false,
    given: [],
    stacked: false,
    reference: false,
    set: [],
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => {
      const v = rest[++i];
      if (
        v !== undefined &&
        [
          "--epochs",
          "--train-samples",
          "--seed",
          "--seeds",
          "--cell",
          "--protocol",
          "--set",
        ].includes(flag)
      )
        p.given.push(`${flag} ${v}`);
      return v;
    };
    const sunspotsOnly = () => {
      if (name !== "sunspots") throw new UsageError(`${flag} applies to sunspots only`);
    };
    switch (flag) {
      case "--epochs":
        p.epochs = wholeNumber(flag, value(), MAX_EPOCHS, "the most epochs one run may ask for");
        break;
      case "--train-samples":
        if (name === "sunspots")
          throw new UsageError(
            "--train-samples does not apply to sunspots (the book's split is fixed)",
          );
        p.trainSamples =
          name === "mnist"
            ? wholeNumber(flag, value(), MNIST_TRAIN_IMAGES, "the MNIST training set")
            : wholeNumber(
                flag,
                value(),
                FASHION_EPOCH_SAMPLES,
                `the book's epoch: ${FASHION_BOOK.batchesPerEpoch} augmented batches of ` +
                  `${FASHION_BOOK.batchSize}`,
              );
        break;
      case "--seed":
        p.seed = seedNumber(flag, value());
        break;
      case "--seeds":
        sunspotsOnly();
        p.seeds = seedList(flag, value());
        break;
      case "--set":
        p.set.push(settingValue(value()));
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
      case "--reset-optimizer":
        p.run.resetOptimizer = true;
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
        p.given.push(flag);
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
        "--set",
      ].includes(f),
    );
    if (setting.length)
      throw new UsageError(
        `--reference takes every setting from the shipped record; drop ${setting.join(", ")}`,
      );
  }
  if (p.run.resume && p.run.force) throw new UsageError("--resume and --force exclude each other");
  if (p.run.resetOptimizer && !p.run.resume)
    throw new UsageError("--reset-optimizer applies only with --resume");
  if (!p.run.out) {
    p.defaultOut = true;
    p.run.out = path.join(
      resultsRoot(),
      "experiments",
      name +
        (p.reference
          ? "-reference"
          : name === "sunspots"
            ? `-${p.cell ?? "lstm"}${p.stacked ? "-stacked" : ""}-${p.protocol ?? "book"}`
            : ""),
    );
  }
  return p;
}

/**
 * The run mode `CH10_MODE` asks for, or undefined when it is unset or empty (the book's
 * settings). @throws SettingError, with runMode's message, for anything else.
 */
function modeFromEnv(env: NodeJS.ProcessEnv): RunModeName | undefined {
  if ((env[MODE_ENV] ?? "").trim() === "") return undefined;
  try {
    return runMode(env).name;
  } catch (e) {
    throw new SettingError(`${(e as Error).message}, or unset it for the book's settings`);
  }
}

type AnySettings = MnistSettings | FashionSettings | SunspotsSettings;

/**
 * The settings of the run: the shipped record's with --reference, else `CH10_MODE`'s notebook
 * mode when set, else the book's; then the options. `line` says which, for the first line printed.
 */
function chooseSettings(
  p: Parsed,
  mode: RunModeName | undefined,
): { settings: AnySettings; line: string } {
  if (p.reference) {
    const reference = referenceSettings(p.name);
    if (p.name === "sunspots") p.seeds = reference.seeds;
    // settings added since the reference was made take the book's values
    const book = { mnist: MNIST_BOOK, fashion: FASHION_BOOK, sunspots: SUNSPOTS_BOOK }[p.name];
    return {
      settings: { ...book, ...reference.settings } as AnySettings,
      line:
        `settings: repeating the shipped ${p.name} reference run: ` +
        JSON.stringify(reference.settings) +
        (p.name === "sunspots" ? `, seeds ${reference.seeds.join(", ")}` : ""),
    };
  }
  const variant = {
    cell: p.cell ?? "lstm",
    stacked: p.stacked,
    protocol: p.protocol ?? "book",
  } as const;
  const base: AnySettings =
    p.name === "mnist"
      ? mode
        ? mnistSettings(mode)
        : { ...MNIST_BOOK }
      : p.name === "fashion"
        ? mode
          ? fashionSettings(mode)
          : { ...FASHION_BOOK }
        : mode
          ? sunspotsSettings(mode, variant)
          : { ...SUNSPOTS_BOOK, ...variant };
  const settings: AnySettings = {
    ...base,
    seed: p.seed ?? base.seed,
    epochs: p.epochs ?? base.epochs,
  };
  if (p.trainSamples !== undefined) {
    if ("trainSamples" in settings) settings.trainSamples = p.trainSamples;
    else if ("batchesPerEpoch" in settings)
      settings.batchesPerEpoch = Math.ceil(p.trainSamples / settings.batchSize);
  }
  for (const [key, value] of p.set) (settings as unknown as Record<string, unknown>)[key] = value;
  try {
    checkSettings(p.name, settings, RULES[p.name] as SettingRules<AnySettings>);
    if ("window" in settings) checkWindows(settings, loadSunspots().values.length);
  } catch (e) {
    throw new SettingError((e as Error).message);
  }
  const source = mode
    ? `${MODE_ENV}=${mode}, the notebooks' ${mode} mode`
    : `the book's (${MODE_ENV} unset)`;
  const options = p.given.length ? `, with ${p.given.join(", ")}` : "";
  return { settings, line: `settings: ${source}${options}: ${JSON.stringify(settings)}` };
}

/** What each experiment's settings may be (the runners check the same). */
const RULES = { mnist: MNIST_RULES, fashion: FASHION_RULES, sunspots: SUNSPOTS_RULES };

/** Keys whose values differ between saved and wanted settings (epochs and names aside). */
function differingSettings(
  saved: Record<string, unknown>,
  wanted: Record<string, unknown>,
): string[] {
  return Object.keys({ ...saved, ...wanted }).filter(
    (k) =>
      k !== "epochs" &&
      k !== "experiment" &&
      JSON.stringify(saved[k]) !== JSON.stringify(wanted[k]),
  );
}

/** One seed of a `--seeds` study: where it goes and what is there already. */
interface SeedPlan {
  seed: number;
  out: string;
  settings: SunspotsSettings;
  /** Its results, finished with these settings and epochs: kept, not run again. */
  kept?: ExperimentRecord;
  /** Its checkpoint, to continue from. */
  resume?: CheckpointMeta;
}

/**
 * What to do with each seed of a study in `out`, decided before anything trains. Repairs what an
 * interrupted checkpoint save left, refuses a seed folder's `checkpoint` that the pack did not
 * write (unless --force), and, unless --resume or --force, refuses a folder that holds a study
 * already. With --resume a seed is kept when its results.json has the epochs asked for with the
 * same settings, continued when it has a checkpoint, and run afresh when its folder is empty.
 * @throws naming the folder or file and the option that proceeds.
 */
function planStudy(out: string, base: SunspotsSettings, seeds: number[], run: RunOptions) {
  const found = seeds.map((seed) => {
    const dir = path.join(out, `seed-${seed}`);
    checkOutputFolder(dir);
    const ckpt = checkpointDir(dir);
    for (const line of recoverCheckpoint(ckpt)) console.log(line);
    assertCheckpointTarget(ckpt, { overwrite: run.force });
    const settings = { ...base, seed };
    return run.force
      ? { seed, out: dir, settings }
      : { seed, out: dir, settings, record: readRecord(dir), meta: readMeta(ckpt) };
  });
  if (run.force) return found;
  const summary = path.join(out, SUMMARY_FILE);
  if (!run.resume) {
    const held = found
      .filter((f) => f.record || f.meta)
      .map((f) =>
        f.record
          ? `seed ${f.seed}: results of ${f.record.metrics.epochs} epoch(s)`
          : `seed ${f.seed}: a checkpoint at epoch ${f.meta!.epoch}`,
      );
    if (fs.existsSync(summary)) held.push(SUMMARY_FILE);
    if (held.length)
      throw new Error(
        `${out} already holds a seed study (${held.join("; ")}); continue it (--resume), ` +
          "choose another folder (--out), or replace it (--force)",
      );
    return found.map(({ seed, out, settings }): SeedPlan => ({ seed, out, settings }));
  }
  return found.map(({ seed, out, settings, record, meta }): SeedPlan => {
    const other = (file: string, saved: Record<string, unknown>) => {
      const keys = differingSettings(saved, settings);
      if (keys.length)
        throw new Error(
          `${file}: made with other settings ` +
            `(${keys.map((k) => `${k}: ${JSON.stringify(saved[k])}`).join(", ")}); resume with ` +
            "the same ones, choose another folder (--out), or replace the study (--force)",
        );
    };
    if (record) {
      const file = path.join(out, "results.json");
      other(file, record.settings);
      if (record.metrics.epochs === settings.epochs) return { seed, out, settings, kept: record };
      if (record.metrics.epochs > settings.epochs)
        throw new Error(
          `${file}: has ${record.metrics.epochs} epochs, more than the ${settings.epochs} ` +
            "asked for; " +
            "ask for at least that many (--epochs), or replace the study (--force)",
        );
    }
    if (meta) {
      other(path.join(checkpointDir(out), "checkpoint.json"), meta.settings ?? {});
      if (meta.epoch > settings.epochs)
        throw new Error(
          `${checkpointDir(out)}: the run already has ${meta.epoch} epochs; ask for at least ` +
            "that many with --epochs",
        );
      return { seed, out, settings, resume: meta };
    }
    if (record)
      throw new Error(
        `${path.join(out, "results.json")}: ${record.metrics.epochs} of the ` +
          `${settings.epochs} epochs and no checkpoint to continue from; replace the study ` +
          "(--force) or choose another folder (--out)",
      );
    return { seed, out, settings };
  });
}

/** One seed's line in the study's summary. */
interface StudyRun {
  seed: number;
  /** The seed's folder, relative to the study's. */
  dir: string;
  val_mse: number;
  test_rmse_sunspots: number;
  epochs: number;
  date: string;
  backend: string;
  /** Finished by an earlier invocation and kept (--resume). */
  kept: boolean;
}

/** Writes the study's record to `out/summary.json` (whole or not at all). @returns the file. */
function writeSummary(
  out: string,
  settings: SunspotsSettings,
  runs: StudyRun[],
  mode: string,
  backend: string,
): string {
  const finals = summarize(runs.map((r) => r.val_mse));
  const common = Object.fromEntries(Object.entries(settings).filter(([k]) => k !== "seed"));
  const summary = {
    kind: "seed study",
    experiment: `sunspots ${variantName(settings)}`,
    mode,
    settings: common,
    seeds: runs.map((r) => r.seed),
    date: new Date().toISOString(),
    backend,
    versions: versions(),
    val_mse: { median: finals.median, min: finals.min, max: finals.max },
    runs,
  };
  const file = path.join(out, SUMMARY_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(summary, null, 1));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

/** Runs (or keeps, or continues) every seed of a study and writes its summary. */
async function runStudy(
  p: Parsed,
  plan: SeedPlan[],
  settings: SunspotsSettings,
): Promise<Record<string, number>> {
  const out = p.run.out!;
  const runs: StudyRun[] = [];
  for (const [i, step] of plan.entries()) {
    const at = `seed ${step.seed} (${i + 1}/${plan.length})`;
    let record: Pick<ExperimentRecord, "metrics" | "date" | "backend" | "timings">;
    if (step.kept) {
      record = step.kept;
      console.log(
        `${at}: kept, finished ${record.date}: val_mse ${record.metrics.val_mse.toFixed(4)} ` +
          `-> ${step.out}`,
      );
    } else {
      if (step.resume)
        console.log(
          `${at}: continuing from its checkpoint ` +
            `(epoch ${step.resume.epoch} of ${step.settings.epochs})`,
        );
      record = (
        await runSunspotsExperiment(step.settings, {
          ...p.run,
          out: step.out,
          progress: false,
          resume: step.resume !== undefined,
        })
      ).record;
      console.log(
        `${at}: val_mse ${record.metrics.val_mse.toFixed(4)} in ` +
          `${record.timings.totalSeconds.toFixed(0)} s -> ${step.out}`,
      );
    }
    runs.push({
      seed: step.seed,
      dir: path.basename(step.out),
      val_mse: record.metrics.val_mse,
      test_rmse_sunspots: record.metrics.test_rmse_sunspots,
      epochs: record.metrics.epochs,
      date: record.date,
      backend: record.backend,
      kept: step.kept !== undefined,
    });
  }
  writeSummary(out, settings, runs, p.run.mode ?? "cli", p.run.backend?.line ?? "");
  const d = summarize(runs.map((r) => r.val_mse));
  return {
    seeds: runs.length,
    median_val_mse: d.median,
    min_val_mse: d.min,
    max_val_mse: d.max,
  };
}

async function main(argv: string[]): Promise<void> {
  const p = parseExperimentArgs(argv);
  const mode = modeFromEnv(process.env);
  if (mode && p.reference)
    throw new SettingError(
      `${MODE_ENV}=${mode} picks a notebook mode's settings, but --reference repeats the shipped ` +
        `record's: unset ${MODE_ENV}, or drop --reference`,
    );
  const { settings, line } = chooseSettings(p, mode);
  console.log(line);
  if (mode) p.run.mode = `cli-${mode}`;
  const out = p.run.out!;
  if (p.defaultOut) checkResultsRoot(process.env, { write: true });
  // all before the backend starts or data is read: a run that cannot finish fails here
  const command = `npm run experiment -- ${argv.join(" ")}`;
  const locks = [lockOutputFolder(out, { command })];
  try {
    // a study holds every seed's folder too (stale locks in kept seeds' folders are taken over)
    for (const seed of p.seeds ?? [])
      locks.push(lockOutputFolder(path.join(out, `seed-${seed}`), { command }));
    for (const note of locks.flatMap((l) => l.notes)) console.log(note);
    const plan = p.seeds
      ? planStudy(out, settings as SunspotsSettings, p.seeds, p.run)
      : (preflightRun(p.run, p.name), undefined);
    p.run.backend = await initBackend({ backend: p.backend });
    let summary: Record<string, number>;
    if (p.name === "mnist") {
      const outcome = await runMnistExperiment(settings as MnistSettings, p.run);
      outcome.xTest.dispose();
      outcome.yTest.dispose();
      summary = outcome.record.metrics;
    } else if (p.name === "fashion") {
      summary = (await runFashionExperiment(settings as FashionSettings, p.run)).record.metrics;
    } else if (plan) {
      summary = await runStudy(p, plan, settings as SunspotsSettings);
    } else {
      summary = (await runSunspotsExperiment(settings as SunspotsSettings, p.run)).record.metrics;
    }
    for (const [k, v] of Object.entries(summary))
      console.log(`${k.padEnd(28)} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
    const what = p.run.charts === false ? "results.json" : "results.json and charts";
    console.log(
      plan
        ? `${SUMMARY_FILE} in ${out}; each seed's ${what} in ${path.join(out, "seed-<S>")}`
        : `${what} in ${out}`,
    );
  } finally {
    for (const lock of locks.reverse()) lock.release();
  }
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
    process.exit(e instanceof SettingError ? 2 : 1);
  });
}
