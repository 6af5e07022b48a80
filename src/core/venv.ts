import { spawnSync } from "child_process";
import * as fs from "fs";
import { VENV, VENV_PYTHON } from "./project";

/**
 * The project's own Python environment (`.venv/`), shared by `npm run lab -- --install`
 * (JupyterLab) and `npm run native -- --install-tensorflow` (TensorFlow).
 */

/** The system Pythons tried after a given one and the project's .venv. */
export const SYSTEM_PYTHONS = ["python3", "/usr/bin/python3"];

/**
 * The first of `candidates` (Python executables) that can import `module`, without importing it.
 */
export function firstPythonWith(
  module: string,
  candidates: (string | undefined)[],
): string | undefined {
  const found = `importlib.util.find_spec(${JSON.stringify(module)})`;
  const probe = `import importlib.util, sys; sys.exit(0 if ${found} else 1)`;
  return candidates
    .filter((p): p is string => Boolean(p))
    .find((py) => spawnSync(py, ["-c", probe], { stdio: "ignore" }).status === 0);
}

/** Runs a command with its output shown; throws naming it and the fix when it fails. */
export function step(
  tag: string,
  what: string,
  command: string,
  args: string[],
  fix: string,
): void {
  console.log(`${tag}: ${what}: ${command} ${args.join(" ")}`);
  const r = spawnSync(command, args, { stdio: "inherit" });
  if (r.status !== 0)
    throw new Error(
      `${what} failed (${r.error ? r.error.message : `exit code ${r.status}`}). ${fix}`,
    );
}

/**
 * Makes `.venv` (or reuses it) and pip-installs `requirements` into it; returns its Python.
 * `tag` prefixes the printed lines (`lab`, `native`).
 * @throws when no Python with venv is found, or venv/pip fail (the message says what to do).
 */
export function pipInstallIntoVenv(tag: string, requirements: string[]): string {
  if (!fs.existsSync(VENV_PYTHON)) {
    const base = SYSTEM_PYTHONS.find(
      (py) => spawnSync(py, ["-c", "import venv, ensurepip"], { stdio: "ignore" }).status === 0,
    );
    if (!base)
      throw new Error(
        "no python3 with the venv module found. Install Python 3.9 or newer " +
          "(Debian/Ubuntu: apt-get install python3-venv), then run the command again.",
      );
    step(
      tag,
      "making the project's Python environment",
      base,
      ["-m", "venv", VENV],
      `Remove ${VENV} and try again.`,
    );
  }
  step(
    tag,
    `installing ${requirements.join(" ")} into .venv`,
    VENV_PYTHON,
    ["-m", "pip", "install", "--disable-pip-version-check", ...requirements],
    "pip needs a package index (PyPI or the one pip is configured with); the log above says " +
      "why it failed. PIP_RETRIES=0 makes an unreachable index fail fast.",
  );
  return VENV_PYTHON;
}
