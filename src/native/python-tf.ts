import { spawnSync } from "child_process";
import { VENV_PYTHON } from "../core/project";
import { SYSTEM_PYTHONS, firstPythonWith } from "../core/venv";

/** The environment variable naming the Python whose TensorFlow `npm run native` builds against. */
export const TF_PYTHON_ENV = "TF_PYTHON";

/**
 * The pinned TensorFlow wheels that `npm run native -- --install-tensorflow cpu|gpu` puts in .venv.
 */
export const TENSORFLOW_PINS = {
  cpu: "tensorflow-cpu==2.21.0",
  gpu: "tensorflow[and-cuda]==2.21.0",
} as const;

/** What a Python TensorFlow offers a C build: headers, libraries, version, CUDA. */
export interface PythonTensorFlow {
  python: string;
  version: string;
  includeDir: string;
  libDir: string;
  cuda: boolean;
  gpus: number;
}

/** The Python candidates, in order: $TF_PYTHON, the project's .venv, python3, /usr/bin/python3. */
export function tensorflowPythonCandidates(): string[] {
  const forced = process.env[TF_PYTHON_ENV];
  return forced ? [forced] : [VENV_PYTHON, ...SYSTEM_PYTHONS];
}

/**
 * The first candidate Python that has TensorFlow installed
 * (not imported: cheap enough to call at backend start).
 */
export function findTensorFlowPython(): string | undefined {
  return firstPythonWith("tensorflow", tensorflowPythonCandidates());
}

const QUERY = `
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
print(json.dumps({
  "version": tf.__version__,
  "includeDir": tf.sysconfig.get_include(),
  "libDir": tf.sysconfig.get_lib(),
  "cuda": bool(tf.test.is_built_with_cuda()),
  "gpus": len(tf.config.list_physical_devices("GPU")),
}))
`;

/**
 * Imports TensorFlow in `python` and returns where its
 * headers and libraries are. Throws with Python's error.
 */
export function describeTensorFlow(python: string): PythonTensorFlow {
  const r = spawnSync(python, ["-c", QUERY], { encoding: "utf8" });
  const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) {
    const err =
      (r.stderr ?? "").trim().split("\n").pop() ?? r.error?.message ?? `exit code ${r.status}`;
    throw new Error(`${python} could not import tensorflow: ${err}`);
  }
  return { python, ...(JSON.parse(last) as Omit<PythonTensorFlow, "python">) };
}
