import * as fs from "fs";
import * as path from "path";
import { ROOT, VENV, VENV_PYTHON } from "../core/project";
import { SYSTEM_PYTHONS, firstPythonWith, pipInstallIntoVenv } from "../core/venv";

export { ROOT, VENV, VENV_PYTHON };

/**
 * The project's JupyterLab set-up, shared by `npm run kernel`, `npm run lab` and
 * `npm run screenshots`: kernelspecs in a project-local Jupyter folder, and a JupyterLab found on
 * the machine or installed into the project's `.venv`.
 */

/** The project-local Jupyter data folder: kernelspecs go to `<prefix>/share/jupyter/kernels/`. */
const PREFIX = path.join(ROOT, ".jupyter");
export const DATA_DIR = path.join(PREFIX, "share", "jupyter");
export const PYTHON_ENV = "JUPYTER_PYTHON";
/** The JupyterLab that `--install` puts in .venv (JupyterLab 4 renders the charts' Vega-Lite 5). */
export const JUPYTERLAB_PIN = "jupyterlab==4.6.4";

/**
 * Writes the kernelspecs that `tslab install --prefix=.jupyter` would write, pointing at this
 * project's own tslab, so no Python is needed to register them and no global install is touched.
 */
export function installKernels(): void {
  const tslab = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");
  if (!fs.existsSync(tslab)) {
    console.error(`kernel: ${tslab} not found; run "npm ci" first`);
    process.exit(1);
  }
  for (const js of [false, true]) {
    const dir = path.join(DATA_DIR, "kernels", js ? "jslab" : "tslab");
    fs.mkdirSync(dir, { recursive: true });
    const spec = {
      argv: [
        process.execPath,
        tslab,
        "kernel",
        "--config-path",
        "{connection_file}",
        ...(js ? ["--js"] : []),
      ],
      display_name: js ? "JavaScript" : "TypeScript",
      language: js ? "javascript" : "typescript",
    };
    fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 1) + "\n");
    console.log(`kernel: wrote ${path.relative(ROOT, path.join(dir, "kernel.json"))}`);
  }
  console.log(
    `kernel: JupyterLab finds them when JUPYTER_PATH includes ${DATA_DIR} ("npm run lab" sets it).`,
  );
}

/**
 * The first Python that can import `module`, among $JUPYTER_PYTHON, .venv, python3 and
 * /usr/bin/python3.
 */
export function findPython(module: string): string | undefined {
  return firstPythonWith(module, [process.env[PYTHON_ENV], VENV_PYTHON, ...SYSTEM_PYTHONS]);
}

/**
 * Makes .venv (or reuses it) and installs the pinned JupyterLab into it; returns its Python.
 * @throws when no Python with venv is found, or venv/pip fail (the message says what to do).
 */
export function installJupyterLab(): string {
  return pipInstallIntoVenv("lab", [JUPYTERLAB_PIN]);
}

/** The environment in which JupyterLab finds the project's kernels. */
export function labEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    JUPYTER_PATH: [DATA_DIR, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
  };
}
