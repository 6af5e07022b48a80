#!/usr/bin/env node
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
/** The project-local Jupyter data folder: kernelspecs go to `<prefix>/share/jupyter/kernels/`. */
const PREFIX = path.join(ROOT, ".jupyter");
const DATA_DIR = path.join(PREFIX, "share", "jupyter");
const PYTHON_ENV = "JUPYTER_PYTHON";

const USAGE = `Usage: npm run kernel      register the tslab (TypeScript) and jslab (JavaScript) kernels in ${path.relative(ROOT, DATA_DIR)}/
       npm run lab         start JupyterLab on notebooks/ with those kernels

JupyterLab is looked for in $${PYTHON_ENV}, then python3 on PATH, then /usr/bin/python3.`;

/**
 * Writes the kernelspecs that `tslab install --prefix=.jupyter` would write, pointing at this
 * project's own tslab, so no Python is needed to register them and no global install is touched.
 */
function installKernels(): void {
  const tslab = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");
  if (!fs.existsSync(tslab)) {
    console.error(`kernel: ${tslab} not found; run "npm ci" first`);
    process.exit(1);
  }
  for (const js of [false, true]) {
    const dir = path.join(DATA_DIR, "kernels", js ? "jslab" : "tslab");
    fs.mkdirSync(dir, { recursive: true });
    const spec = {
      argv: [process.execPath, tslab, "kernel", "--config-path", "{connection_file}", ...(js ? ["--js"] : [])],
      display_name: js ? "JavaScript" : "TypeScript",
      language: js ? "javascript" : "typescript",
    };
    fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 1) + "\n");
    console.log(`kernel: wrote ${path.relative(ROOT, path.join(dir, "kernel.json"))}`);
  }
  console.log(`kernel: JupyterLab finds them when JUPYTER_PATH includes ${DATA_DIR} ("npm run lab" sets it).`);
}

/** The first Python that can import `module`, among $JUPYTER_PYTHON, python3 and /usr/bin/python3. */
function findPython(module: string): string | undefined {
  const candidates = [process.env[PYTHON_ENV], "python3", "/usr/bin/python3"].filter((p): p is string => Boolean(p));
  return candidates.find((py) => spawnSync(py, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0);
}

/** Starts JupyterLab on notebooks/ with the project's kernels, or explains how to install it. */
function lab(extra: string[]): void {
  installKernels();
  const python = findPython("jupyterlab");
  if (!python) {
    console.error(`lab: JupyterLab is not installed in any Python I can find ($${PYTHON_ENV}, python3, /usr/bin/python3).
Install it, then run "npm run lab" again:
    python3 -m pip install "jupyterlab>=4"
or point ${PYTHON_ENV} at a Python that has it:
    ${PYTHON_ENV}=/path/to/python npm run lab`);
    process.exit(1);
  }
  const env = { ...process.env, JUPYTER_PATH: [DATA_DIR, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter) };
  console.log(`lab: ${python} -m jupyterlab --notebook-dir=notebooks (kernels from ${DATA_DIR})`);
  // Jupyter refuses to run as root without --allow-root (containers, CI images).
  const rootFlag = process.getuid?.() === 0 && !extra.includes("--allow-root") ? ["--allow-root"] : [];
  const child = spawn(python, ["-m", "jupyterlab", `--notebook-dir=${path.join(ROOT, "notebooks")}`, ...rootFlag, ...extra], { stdio: "inherit", env });
  child.on("exit", (code) => process.exit(code ?? 0));
}

const [command, ...rest] = process.argv.slice(2);
if (command === "install") installKernels();
else if (command === "lab") lab(rest);
else {
  console.error(USAGE);
  process.exit(command === "--help" || command === "-h" ? 0 : 2);
}
