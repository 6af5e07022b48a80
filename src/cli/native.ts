#!/usr/bin/env node
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";
import { pipInstallIntoVenv } from "../core/venv";
import {
  checkCompiler,
  compileBinding,
  lockedTfjsVersion,
  tfjsNodeSources,
  upToDate,
  verifyBuild,
} from "../native/build";
import { MANIFEST } from "../native/manifest";
import {
  TENSORFLOW_PINS,
  TF_PYTHON_ENV,
  describeTensorFlow,
  findTensorFlowPython,
  tensorflowPythonCandidates,
} from "../native/python-tf";
import { refuseRunMode } from "./no-run-mode";

// a backslash at a line's end continues the printed line
const USAGE = `Usage: npm run native [-- --install-tensorflow [cpu|gpu]] [--force]

Builds tfjs-node's TensorFlow binding against the TensorFlow of a Python: $${TF_PYTHON_ENV}, \
else the
first of the project's .venv, python3, /usr/bin/python3 that has tensorflow. The result goes to
native/ (kept by npm ci); initBackend then picks the "tensorflow" backend automatically.
  --install-tensorflow cpu   first pip-install ${TENSORFLOW_PINS.cpu} into .venv
  --install-tensorflow gpu   first pip-install ${TENSORFLOW_PINS.gpu} into .venv \
(NVIDIA GPU, CUDA 12 from pip)
  --force                    rebuild even when the recorded build is up to date`;

interface Options {
  install?: keyof typeof TENSORFLOW_PINS;
  force: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = { force: false };
  const fail = (m: string): never => {
    console.error(`native: ${m}\n\n${USAGE}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--install-tensorflow") {
      const next = argv[i + 1];
      if (next === "cpu" || next === "gpu") o.install = argv[++i] as Options["install"];
      else if (next === undefined || next.startsWith("--")) o.install = "cpu";
      else fail(`--install-tensorflow: "${next}" is neither cpu nor gpu`);
    } else if (a === "--force") o.force = true;
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return o;
}

function main(): void {
  const o = parse(process.argv.slice(2));
  refuseRunMode("native", "it builds the native TensorFlow backend, which every run mode uses");
  const started = Date.now();
  const python = o.install
    ? pipInstallIntoVenv("native", [TENSORFLOW_PINS[o.install]])
    : findTensorFlowPython();
  if (!python) {
    throw new Error(
      `no Python with TensorFlow among ${tensorflowPythonCandidates().join(", ")}. ` +
        'Run "npm run native -- --install-tensorflow cpu" (or gpu) to put one in .venv, ' +
        `or set ${TF_PYTHON_ENV} to a Python that has it.`,
    );
  }
  const tf = describeTensorFlow(python);
  console.log(`native: TensorFlow ${tf.version} from ${tf.python}`);
  console.log(`native: libraries in ${tf.libDir}`);
  const gpus = `${tf.gpus} GPU${tf.gpus === 1 ? "" : "s"}`;
  console.log(`native: CUDA: ${tf.cuda ? `yes, ${gpus} visible` : "no (CPU build)"}`);
  const tfjsVersion = lockedTfjsVersion();
  const current = o.force ? undefined : upToDate(tf, tfjsVersion);
  if (current) {
    console.log(`native: up to date (built ${current.builtAt}); --force rebuilds`);
  } else {
    console.log(`native: compiler: ${checkCompiler()}`);
    const sources = tfjsNodeSources(tfjsVersion);
    compileBinding(tf, tfjsVersion, sources);
  }
  let check;
  try {
    check = verifyBuild();
  } catch (e) {
    fs.renameSync(MANIFEST, MANIFEST.replace(/\.json$/, ".failed.json"));
    throw e;
  }
  const binding = path.relative(ROOT, JSON.parse(fs.readFileSync(MANIFEST, "utf8")).binding);
  console.log(`native: binding ${binding} loads: TensorFlow ${check.version} on ${check.device}`);
  console.log(
    `native: done in ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
      'initBackend() now chooses "tensorflow" (CH10_BACKEND=tensorflow forces it)',
  );
}

try {
  main();
} catch (e) {
  console.error(`native: ${(e as Error).message}`);
  process.exit(1);
}
