import * as fs from "fs";
import * as path from "path";
import { ROOT, VENV, VENV_PYTHON } from "../core/project";
import { SYSTEM_PYTHONS, firstPythonWith, pipInstallIntoVenv } from "../core/venv";
import {
  DENO_VERSION,
  denoBinary,
  denoKernelArgs,
  denoKernelEnv,
  ensureDeno,
  installedDenoVersion,
} from "./deno";

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

/** What {@link installKernels} does about Deno's kernel. */
export type DenoKernelChoice =
  /** fetch Deno into `.deno/` when it is missing, then register its kernel */
  | "fetch"
  /** register it when Deno was fetched before, else say how to add it */
  | "if-fetched"
  /** leave it out */
  | "skip";

/** Writes one kernelspec into the project's Jupyter folder and says so. */
function writeKernelSpec(name: string, spec: object): void {
  const dir = path.join(DATA_DIR, "kernels", name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 1) + "\n");
  console.log(`kernel: wrote ${path.relative(ROOT, path.join(dir, "kernel.json"))}`);
}

/**
 * Writes the kernelspecs that `tslab install --prefix=.jupyter` would write, pointing at this
 * project's own tslab, and, as `deno` chooses, the one `deno jupyter --install` would write for
 * the project's Deno (with {@link denoKernelEnv}), so no Python is needed to register them and
 * nothing outside the project (the user's home included) is touched.
 * @returns false when Deno's kernel was asked for ("fetch") but Deno could not be fetched (the
 * tslab kernels are written all the same).
 */
export function installKernels(deno: DenoKernelChoice = "if-fetched"): boolean {
  const tslab = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");
  if (!fs.existsSync(tslab)) {
    console.error(`kernel: ${tslab} not found; run "npm ci" first`);
    process.exit(1);
  }
  for (const js of [false, true]) {
    writeKernelSpec(js ? "jslab" : "tslab", {
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
    });
  }
  let ok = true;
  if (deno !== "skip") {
    let binary: string | undefined;
    try {
      binary =
        deno === "fetch"
          ? ensureDeno((line) => console.log(`kernel: ${line}`))
          : installedDenoVersion() === DENO_VERSION
            ? denoBinary()
            : undefined;
    } catch (e) {
      console.error(`kernel: Deno's kernel not registered: ${(e as Error).message}`);
      ok = false;
    }
    if (binary)
      writeKernelSpec("deno", {
        argv: [binary, ...denoKernelArgs("{connection_file}")],
        display_name: `Deno ${DENO_VERSION} (TypeScript)`,
        language: "typescript",
        env: denoKernelEnv(),
      });
    else if (ok)
      console.log(
        `kernel: Deno's kernel is not registered (Deno ${DENO_VERSION} not fetched yet): ` +
          `"npm run kernel" or "npm run lab -- --deno" fetches it (about 92 MB) and adds it`,
      );
  }
  console.log(
    `kernel: JupyterLab finds them when JUPYTER_PATH includes ${DATA_DIR} ("npm run lab" sets it).`,
  );
  return ok;
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
