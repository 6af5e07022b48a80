#!/usr/bin/env node
import { spawnSync } from "child_process";
import { DecayedAdam } from "../train/optimizer";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, BackendName, initBackend } from "../backend/init";
import { loadNativeBuild } from "../native/load";
import { probeWebGpu } from "../backend/webgpu";
import { fashionCnn, mnistCnn } from "../models/cnn";
import { sunspotRnn } from "../models/rnn";
import { releaseKeptStates } from "../rnn/stateful";
import { findTensorFlowPython, tensorflowPythonCandidates } from "../native/python-tf";
import { formatTable } from "../viz/text-table";
import { DataParallel, planThreads } from "../train/parallel/data-parallel";
import { refuseRunMode } from "./no-run-mode";
import { decimalInRange } from "../core/numbers";

// a backslash at a line's end continues the printed line
const USAGE = `Usage: npm run bench -- [--models mnist,fashion,lstm,gru,lstm-layers,gru-layers] \
[--backends tensorflow,webgpu,wasm,cpu] [--threads 1,auto] [--steps N] [--budget SEC] [--rounds R] \
[--out FILE] [--no-keras]

Times one training step (trainOnBatch, Adam 1e-3 as Keras computes it: DecayedAdam) \
of the chapter's models on each backend:
median ms/step after warm-up, samples/s, tensors added per step after step 1, peak RSS.
lstm/gru use the fused recurrent layer, lstm-layers/gru-layers tfjs's own layers.
--threads: each setting is measured (train()'s data-parallel threads; a setting that plans
the same thread count as one already measured is skipped, e.g. auto for the stateful RNNs).
When Python TensorFlow is importable, the same models run in Keras in the same invocation, both
compiled and with run_eagerly, and the ratio to compiled Keras is printed. --rounds R (default 2)
repeats everything R times, alternating our backends and Keras, and reports the median of the
rounds' medians, so a machine that slows down for a while does not favour either side.
--backends defaults to tensorflow (when npm run native built it), webgpu (when WebGPU finds a GPU,
not a CPU renderer), wasm and cpu. webgpu on a CPU renderer (Mesa's llvmpipe) measures correctness
plumbing, not speed. The report names each backend's device (the WebGPU adapter among them).
Writes a JSON report (default results/bench.json).`;

const MODELS = {
  mnist: { build: mnistCnn, batch: 256, kind: "cnn" },
  fashion: { build: fashionCnn, batch: 256, kind: "cnn" },
  lstm: { build: () => sunspotRnn({ cell: "lstm" }), batch: 20, kind: "rnn" },
  gru: { build: () => sunspotRnn({ cell: "gru" }), batch: 20, kind: "rnn" },
  "lstm-layers": {
    build: () => sunspotRnn({ cell: "lstm", implementation: "layers" }),
    batch: 20,
    kind: "rnn",
  },
  "gru-layers": {
    build: () => sunspotRnn({ cell: "gru", implementation: "layers" }),
    batch: 20,
    kind: "rnn",
  },
} as const;
type ModelName = keyof typeof MODELS;

interface Options {
  models: ModelName[];
  backends: BackendName[];
  threads: (number | "auto")[];
  steps: number;
  budgetSec: number;
  out: string;
  keras: boolean;
  rounds: number;
}

function parse(argv: string[]): Options {
  const o: Options = {
    models: ["mnist", "fashion", "lstm", "gru", "lstm-layers", "gru-layers"],
    backends: [],
    threads: [1, "auto"],
    steps: 20,
    budgetSec: 30,
    out: "results/bench.json",
    keras: true,
    rounds: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i] ?? fail(`${a} needs a value`);
    const list = <T extends string>(allowed: readonly string[]) =>
      v()
        .split(",")
        .map((s) =>
          allowed.includes(s)
            ? (s as T)
            : fail(`${a}: unknown "${s}" (choose from ${allowed.join(", ")})`),
        );
    if (a === "--models") o.models = list<ModelName>(Object.keys(MODELS));
    else if (a === "--backends") o.backends = list<BackendName>(BACKEND_NAMES);
    else if (a === "--threads")
      o.threads = v()
        .split(",")
        .map((t) =>
          t === "auto"
            ? "auto"
            : typeof decimalInRange("--threads", t, 1, 1024) === "number"
              ? Number(t)
              : fail(`--threads: "${t}" is neither a whole number from 1 to 1024 nor auto`),
        );
    else if (a === "--steps") o.steps = number(a, v(), 3, 100_000);
    else if (a === "--budget") o.budgetSec = number(a, v(), 1, 86_400);
    else if (a === "--out") o.out = v();
    else if (a === "--no-keras") o.keras = false;
    else if (a === "--rounds") o.rounds = number(a, v(), 1, 100);
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return o;
}

function fail(m: string): never {
  console.error(`bench: ${m}\n\n${USAGE}`);
  process.exit(2);
}

/** A decimal whole number option within `min..max`, or the usage error. */
function number(option: string, raw: string, min: number, max: number): number {
  const n = decimalInRange(option, raw, min, max);
  return typeof n === "number" ? n : fail(n);
}

/** tensorflow when built, webgpu on a GPU adapter, then wasm and cpu. */
async function defaultBackends(): Promise<BackendName[]> {
  const web = await probeWebGpu();
  return [
    ...(loadNativeBuild().ok ? ["tensorflow" as const] : []),
    ...(web.ok && !web.software ? ["webgpu" as const] : []),
    "wasm",
    "cpu",
  ];
}

interface Measurement {
  backend: string;
  model: ModelName;
  batch: number;
  threads: number;
  msPerStep: number;
  samplesPerSec: number;
  steps: number;
  tensorGrowthPerStep: number;
  peakRssMb: number;
}

function batchFor(name: ModelName): [tf.Tensor, tf.Tensor] {
  const { batch, kind } = MODELS[name];
  if (kind === "cnn")
    return [
      tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 1),
      tf.oneHot(tf.randomUniform([batch], 0, 10, "int32", 2), 10),
    ];
  return [
    tf.randomUniform([batch, 15, 1], -1, 1, "float32", 3),
    tf.randomUniform([batch, 1], -1, 1, "float32", 4),
  ];
}

function compiledModel(name: ModelName): tf.LayersModel {
  const model = MODELS[name].build();
  model.compile({
    optimizer: new DecayedAdam(1e-3),
    loss: MODELS[name].kind === "cnn" ? "categoricalCrossentropy" : "meanSquaredError",
  });
  return model;
}

/** Measures `name` with each thread setting that plans a thread count not measured yet. */
async function measureAll(
  name: ModelName,
  backend: BackendName,
  o: Options,
): Promise<Measurement[]> {
  const done = new Set<number>();
  const out: Measurement[] = [];
  for (const setting of o.threads) {
    const model = compiledModel(name);
    const { threads } = planThreads(model, MODELS[name].batch, setting);
    if (done.has(threads)) {
      model.dispose();
      continue;
    }
    done.add(threads);
    out.push(await measure(model, name, backend, threads, o));
  }
  return out;
}

async function measure(
  model: tf.LayersModel,
  name: ModelName,
  backend: BackendName,
  threads: number,
  o: Options,
): Promise<Measurement> {
  const parallel =
    threads > 1 ? await DataParallel.start(model, threads, MODELS[name].batch, backend) : undefined;
  const [x, y] = batchFor(name);
  await model.trainOnBatch(x, y); // step 1 creates the optimizer slots
  releaseKeptStates(model);
  const afterFirst = tf.memory().numTensors;
  const times: number[] = [];
  const deadline = Date.now() + o.budgetSec * 1000;
  const started = Date.now();
  // at least `steps` steps and 3 s of them (fast models
  // need hundreds of steps to warm up), within the budget
  while (
    (times.length < o.steps || Date.now() - started < 3000) &&
    (times.length < 3 || Date.now() < deadline)
  ) {
    const t = process.hrtime.bigint();
    await model.trainOnBatch(x, y);
    releaseKeptStates(model); // what train() does after every batch (see ReleaseKeptStates)
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    const last = times[times.length - 1].toFixed(0);
    const plural = threads > 1 ? "s" : "";
    progress(`${backend} ${name} (${threads} thread${plural}): step ${times.length}, ${last} ms`);
  }
  progress("");
  const growth = (tf.memory().numTensors - afterFirst) / times.length;
  await parallel?.close();
  tf.dispose([x, y]);
  model.dispose();
  // the first steps still warm caches and the JIT
  const ms = median(times.slice(Math.max(1, Math.floor(times.length / 5))));
  return {
    backend,
    model: name,
    batch: MODELS[name].batch,
    threads,
    msPerStep: ms,
    samplesPerSec: (MODELS[name].batch * 1000) / ms,
    steps: times.length,
    tensorGrowthPerStep: growth,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** One progress line, rewritten in place on a terminal; silent when output is redirected. */
function progress(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r${text.padEnd(60)}\r`);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type KerasTimes = Record<string, { ms_per_step: number; samples_per_s: number }>;
interface KerasReport {
  tensorflow: string;
  models: KerasTimes;
  eager?: KerasTimes;
}

/**
 * Runs bench/keras_bench.py when Python TensorFlow is importable; returns its report or why not.
 */
function keras(o: Options): { report?: KerasReport; why?: string } {
  if (!o.keras) return { why: "--no-keras" };
  const python = findTensorFlowPython();
  if (!python)
    return { why: `no Python with tensorflow among ${tensorflowPythonCandidates().join(", ")}` };
  const script = path.join(__dirname, "..", "..", "bench", "keras_bench.py");
  // Keras has one LSTM/GRU implementation
  const models = [...new Set(o.models.map((m) => m.replace(/-layers$/, "")))];
  const cfg = JSON.stringify({
    models,
    eager: models,
    steps: o.steps,
    budget_s: o.budgetSec,
    warmup: 2,
  });
  const r = spawnSync(python, [script, cfg], { encoding: "utf8" });
  if (r.status !== 0) return { why: `keras_bench.py failed: ${r.stderr.trim().split("\n").pop()}` };
  return { report: JSON.parse(r.stdout.trim().split("\n").pop()!) };
}

/** The median of each key's values over rounds. */
function medianBy<T>(
  items: T[],
  key: (t: T) => string,
  value: (t: T) => number,
): Map<string, { first: T; median: number; values: number[] }> {
  const groups = new Map<string, { first: T; median: number; values: number[] }>();
  for (const t of items) {
    const g = groups.get(key(t)) ?? { first: t, median: 0, values: [] };
    g.values.push(value(t));
    groups.set(key(t), g);
  }
  for (const g of groups.values()) g.median = median(g.values);
  return groups;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  refuseRunMode(
    "bench",
    "it times training steps of the chapter's models; " +
      "--steps, --rounds and --models set how long it takes",
  );
  if (!o.backends.length) o.backends = await defaultBackends();
  const devices: Record<string, string> = {};
  const measured: Measurement[] = [];
  const kerasRounds: KerasReport[] = [];
  let kerasWhy: string | undefined;
  for (let round = 1; round <= o.rounds; round++) {
    if (o.rounds > 1) console.log(`round ${round}/${o.rounds}`);
    for (const backend of o.backends) {
      const info = await initBackend({ backend, quiet: round > 1 });
      devices[info.name] = info.detail;
      for (const name of o.models) measured.push(...(await measureAll(name, info.name, o)));
    }
    const k = keras(o);
    if (k.report) kerasRounds.push(k.report);
    else kerasWhy = k.why;
  }
  if (!kerasRounds.length) console.log(`Keras baseline skipped: ${kerasWhy}`);
  const kerasMs = (set: "models" | "eager", model: string) => {
    const v = kerasRounds
      .map((r) => r[set]?.[model]?.ms_per_step)
      .filter((x): x is number => x !== undefined);
    return v.length ? median(v) : undefined;
  };
  const groups = medianBy(
    measured,
    (m) => `${m.backend}/${m.model}/${m.threads}`,
    (m) => m.msPerStep,
  );
  const results = [...groups.values()].map(({ first, median: ms, values }) => ({
    ...first,
    msPerStep: ms,
    samplesPerSec: (first.batch * 1000) / ms,
    roundsMs: values,
  }));
  const rows = results.map((m) => {
    const base = m.model.replace(/-layers$/, "");
    const compiled = kerasMs("models", base);
    const eager = kerasMs("eager", base);
    return {
      backend: m.backend,
      model: m.model,
      batch: m.batch,
      threads: m.threads,
      "ms/step": Number(m.msPerStep.toFixed(1)),
      "samples/s": Number(m.samplesPerSec.toFixed(1)),
      "tensors/step": m.tensorGrowthPerStep,
      "peak RSS MB": Math.round(m.peakRssMb),
      ...(kerasRounds.length
        ? {
            "Keras ms/step": compiled ? Number(compiled.toFixed(1)) : "-",
            "Keras eager ms/step": eager ? Number(eager.toFixed(1)) : "-",
            "speed vs Keras": compiled ? `${(compiled / m.msPerStep).toFixed(3)}x` : "-",
          }
        : {}),
    };
  });
  console.log(formatTable(rows));
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    tfjs: tf.version_core,
    cpu,
    cores: os.cpus().length,
    rounds: o.rounds,
    devices,
    results,
    keras: kerasRounds.length ? kerasRounds : { skipped: kerasWhy },
  };
  fs.writeFileSync(o.out, JSON.stringify(report, null, 2) + "\n");
  console.log(`report written to ${o.out}`);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
