#!/usr/bin/env node
import { ChildProcess, spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import {
  DATA_DIR,
  JUPYTERLAB_PIN,
  PYTHON_ENV,
  ROOT,
  VENV,
  findPython,
  installJupyterLab,
  installKernels,
  labEnv,
} from "../notebook/jupyterlab";
import { onNpmScriptStopped } from "../notebook/kernel";
import { DENO_VERSION } from "../notebook/deno";
import { runMode } from "../core/mode";

const KERNELS = path.relative(ROOT, DATA_DIR);
const USAGE = `Usage: npm run kernel             register the tslab (TypeScript) and jslab
                                 (JavaScript) kernels in ${KERNELS}/, and Deno's
                                 kernel (Deno ${DENO_VERSION}, fetched into .deno/ from the
                                 npm registry on first use, about 92 MB)
       npm run kernel -- --no-deno   the tslab kernels only
       npm run lab [-- ARGS]     start JupyterLab on notebooks/ with those kernels
                                 (ARGS go to JupyterLab, e.g. --port=8890; Deno's
                                 kernel is offered once it was fetched)
       npm run lab -- --deno     fetch Deno first if needed, to offer its kernel too
       npm run lab -- --install  first make .venv/ with ${JUPYTERLAB_PIN} when no JupyterLab
                                 is found

JupyterLab is looked for in $${PYTHON_ENV}, then .venv/, then python3 on PATH, then
/usr/bin/python3. Ctrl+C (SIGINT), SIGTERM or SIGHUP stops JupyterLab (it shuts its kernels
down), then npm run lab.`;

/** Asks a yes/no question on the terminal (default yes). */
function ask(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      resolve(!/^n/i.test(answer.trim()));
    }),
  );
}

/** Whether this machine can open a browser window for JupyterLab. */
function hasDisplay(): boolean {
  return (
    process.platform !== "linux" || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)
  );
}

/** How long JupyterLab has to shut down (it stops its kernels first) before it is killed. */
const LAB_STOP_GRACE_MS = 30_000;

/**
 * Makes SIGINT, SIGTERM and SIGHUP to this process (or npm's being stopped, when npm started it)
 * stop JupyterLab: each is passed on as SIGTERM, on which JupyterLab shuts down at once and
 * cleanly, its kernels too (a SIGINT only asks for a confirmation on its terminal, and it has no
 * handler for SIGHUP); this process exits with 128 + the signal's number once JupyterLab is gone
 * (SIGKILL after {@link LAB_STOP_GRACE_MS}). If this process ends otherwise, JupyterLab gets
 * SIGTERM too.
 */
function stopWithSignals(lab: ChildProcess): void {
  const gone = () => lab.exitCode !== null || lab.signalCode !== null;
  let received: NodeJS.Signals | undefined;
  const stop = (name: NodeJS.Signals, why: string) => {
    if (!received) {
      console.error(`lab: ${why}: stopping JupyterLab`);
      setTimeout(() => {
        const grace = LAB_STOP_GRACE_MS / 1000;
        console.error(`lab: JupyterLab did not stop within ${grace} s of SIGTERM; killing it`);
        lab.kill("SIGKILL");
      }, LAB_STOP_GRACE_MS).unref();
    }
    received ??= name;
    if (!gone()) lab.kill("SIGTERM");
  };
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(name, () => stop(name, name));
  onNpmScriptStopped(() => stop("SIGHUP", "npm was stopped (its shell is gone)"));
  lab.on("exit", (code, signal) => {
    const status = (s: NodeJS.Signals) => 128 + os.constants.signals[s];
    process.exit(received ? status(received) : (code ?? status(signal!)));
  });
  process.on("exit", () => {
    if (!gone()) lab.kill("SIGTERM");
  });
}

/**
 * Starts JupyterLab on notebooks/ with the project's kernels. When none is found, installs it
 * into .venv with `--install` (or after a yes at the prompt on a terminal), else says how.
 */
async function lab(args: string[]): Promise<void> {
  try {
    runMode(); // the kernels take CH10_MODE from here: a bogus value is refused before JupyterLab
  } catch (e) {
    console.error(`lab: ${(e as Error).message}`);
    process.exit(2);
  }
  const install = args.includes("--install");
  const extra = args.filter((a) => a !== "--install" && a !== "--deno");
  installKernels(args.includes("--deno") ? "fetch" : "if-fetched");
  let python = findPython("jupyterlab");
  if (!python) {
    console.error(
      `lab: JupyterLab is not installed in any Python I can find ` +
        `($${PYTHON_ENV}, .venv, python3, /usr/bin/python3).`,
    );
    const yes =
      install ||
      (process.stdin.isTTY &&
        process.stdout.isTTY &&
        (await ask(`Install ${JUPYTERLAB_PIN} into ${VENV} now (about 100 MB)? [Y/n] `)));
    if (!yes) {
      console.error(`Install it into the project's .venv and start it:
    npm run lab -- --install
or point ${PYTHON_ENV} at a Python that has JupyterLab 4:
    ${PYTHON_ENV}=/path/to/python npm run lab`);
      process.exit(1);
    }
    try {
      python = installJupyterLab();
    } catch (e) {
      console.error(`lab: ${(e as Error).message}`);
      process.exit(1);
    }
  }
  const env = labEnv();
  // Jupyter refuses to run as root without --allow-root (containers, CI images).
  const rootFlag =
    process.getuid?.() === 0 && !extra.includes("--allow-root") ? ["--allow-root"] : [];
  const browserFlag =
    hasDisplay() ||
    extra.some((a) => a.startsWith("--no-browser") || a.startsWith("--ServerApp.open_browser"))
      ? []
      : ["--no-browser"];
  console.log(
    `lab: ${python} -m jupyterlab --notebook-dir=notebooks ` + `(kernels from ${KERNELS}/)`,
  );
  if (browserFlag.length) {
    console.log(
      "lab: no display here, so no browser opens: open the http://127.0.0.1:... URL that\n" +
        "     JupyterLab prints below (with its token) in a browser; from another machine,\n" +
        "     forward the port first: ssh -L 8888:localhost:8888 this-machine.\n" +
        "     Stop JupyterLab with Ctrl+C.",
    );
  }
  const child = spawn(
    python,
    [
      "-m",
      "jupyterlab",
      `--notebook-dir=${path.join(ROOT, "notebooks")}`,
      ...rootFlag,
      ...browserFlag,
      ...extra,
    ],
    { stdio: "inherit", env },
  );
  child.on("error", (e) => {
    console.error(`lab: cannot start ${python}: ${e.message}`);
    process.exit(1);
  });
  stopWithSignals(child);
}

const [command, ...rest] = process.argv.slice(2);
if (command === "install") {
  const unknown = rest.filter((a) => a !== "--no-deno");
  if (unknown.length) {
    console.error(`kernel: unknown option ${unknown[0]}\n\n${USAGE}`);
    process.exit(2);
  }
  process.exit(installKernels(rest.includes("--no-deno") ? "skip" : "fetch") ? 0 : 1);
} else if (command === "lab") void lab(rest);
else {
  console.error(USAGE);
  process.exit(command === "--help" || command === "-h" ? 0 : 2);
}
