#!/usr/bin/env node
import { ChildProcess, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT, findPython, labEnv } from "../notebook/jupyterlab";
import { freePorts } from "../notebook/kernel";
import { refuseRunMode } from "./no-run-mode";
import {
  Browser,
  BrowserPage,
  NO_CHROMIUM,
  findChromium,
  hasCjkFont,
  launchChromium,
} from "../core/chromium";

// a backslash at a line's end continues the printed line
const USAGE = `Usage: npm run screenshots -- [options] [notebook.ipynb ...]

Opens executed notebooks in JupyterLab (headless Chromium), as a reader sees them, and saves
screenshots of each, top to bottom, one PNG per screenful: <out>/<notebook>/01.png, 02.png, ...

  notebook.ipynb   which notebooks of the folder (default: all of them)
  --from DIR       the executed notebooks (default: results/notebooks, written by \
"npm run notebooks")
  --out DIR        where screenshots go (default: results/screenshots)
  --width PX       window width (default 1400)
  --height PX      height of one screenful (default 2000)
  --help           this text

Needs JupyterLab ("npm run lab -- --install" puts one in .venv) and Chromium
(CHROMIUM=/path/to/chrome, else chromium or google-chrome on PATH; \
Debian: apt-get install chromium).`;

interface Args {
  names: string[];
  from: string;
  out: string;
  width: number;
  height: number;
}

function fail(message: string, code = 2): never {
  console.error(`screenshots: ${message}${code === 2 ? `\n\n${USAGE}` : ""}`);
  process.exit(code);
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    names: [],
    from: path.join(ROOT, "results", "notebooks"),
    out: path.join(ROOT, "results", "screenshots"),
    width: 1400,
    height: 2000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`${a} needs a value`);
    const pixels = () => {
      const v = Number(value());
      return Number.isInteger(v) && v >= 400 && v <= 8000
        ? v
        : fail(`${a} needs a whole number of pixels between 400 and 8000`);
    };
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "--from") args.from = path.resolve(value());
    else if (a === "--out") args.out = path.resolve(value());
    else if (a === "--width") args.width = pixels();
    else if (a === "--height") args.height = pixels();
    else if (a.startsWith("-")) fail(`unknown option ${a}`);
    else args.names.push(a);
  }
  return args;
}

/** The notebooks (paths relative to `from`, subfolders included) to photograph. */
function notebooksIn(from: string, names: string[]): string[] {
  if (!fs.existsSync(from))
    fail(`${from} does not exist; run "npm run notebooks" first to execute the notebooks`, 1);
  const all = (fs.readdirSync(from, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ipynb") && !f.includes(".ipynb_checkpoints"))
    .sort();
  if (names.length === 0) return all;
  return names.map(
    (n) =>
      all.find((f) => f === n || path.basename(f) === path.basename(n)) ??
      fail(`${n} is not among the executed notebooks in ${from}`, 1),
  );
}

/**
 * A throw-away JupyterLab settings folder that silences toasts (the "official Jupyter news?"
 * question would cover the notebook's corner in every screenshot); the reader's own settings stay
 * untouched.
 */
function quietSettings(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-lab-settings-"));
  const file = path.join(
    dir,
    "@jupyterlab",
    "apputils-extension",
    "notification.jupyterlab-settings",
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({ fetchNews: "false", checkForUpdates: false, doNotDisturbMode: true }),
  );
  return dir;
}

/** Warns when no font can draw Chinese: the section titles give the book's Chinese headings. */
function checkCjkFont(): void {
  if (!hasCjkFont())
    console.warn(
      "screenshots: no Chinese font installed, so the book's section titles show as boxes " +
        "(Debian: apt-get install fonts-noto-cjk)",
    );
}

/** Starts JupyterLab serving `root` and resolves once its API answers. */
async function startLab(
  python: string,
  root: string,
): Promise<{ url: string; token: string; proc: ChildProcess }> {
  const [port] = await freePorts(1);
  const token = randomBytes(12).toString("hex");
  const rootFlag = process.getuid?.() === 0 ? ["--allow-root"] : [];
  const proc = spawn(
    python,
    [
      "-m",
      "jupyterlab",
      "--no-browser",
      `--port=${port}`,
      "--ServerApp.ip=127.0.0.1",
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${root}`,
      "--LabApp.news_url=",
      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
      ...rootFlag,
    ],
    {
      env: { ...labEnv(), JUPYTERLAB_SETTINGS_DIR: quietSettings() },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  proc.stderr!.on("data", (d) => (log += String(d)));
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; waited < 60_000; waited += 500) {
    if (proc.exitCode !== null) fail(`JupyterLab exited (code ${proc.exitCode}):\n${log}`, 1);
    const ok = await fetch(`${url}/api/status?token=${token}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, token, proc };
    await new Promise((r) => setTimeout(r, 500));
  }
  proc.kill();
  return fail(`JupyterLab did not answer within 60 s:\n${log}`, 1);
}

type Page = BrowserPage & { waitForSelector(s: string, o?: object): Promise<unknown> };

/**
 * Scrolls the open notebook one screenful at a time
 * and saves each; returns the number of screenshots.
 */
async function photograph(page: Page, url: string, dir: string): Promise<number> {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForSelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", { timeout: 60_000 });
  await page.waitForTimeout(4000); // outputs (Vega charts, tables) render after the cells appear
  const panel = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer";
  const scroller = `document.querySelector(${JSON.stringify(panel)})`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (let shot = 1; shot <= 60; shot++) {
    await page.screenshot({ path: path.join(dir, `${String(shot).padStart(2, "0")}.png`) });
    // done once the last cell's bottom is in view
    // (JupyterLab lets the panel scroll on into blank space)
    const moved = await page.evaluate<boolean>(`(() => {
      const s = ${scroller}; if (!s) return false;
      const cells = s.querySelectorAll(".jp-Cell"), last = cells[cells.length - 1];
      if (!last) return false;
      if (last.getBoundingClientRect().bottom <= s.getBoundingClientRect().bottom) return false;
      const before = s.scrollTop; s.scrollTop += s.clientHeight - 60; return s.scrollTop > before;
    })()`);
    if (!moved) return shot;
    await page.waitForTimeout(1500);
  }
  return 60;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  refuseRunMode(
    "screenshots",
    "it shows notebooks already executed by npm run notebooks, in the mode they ran in",
  );
  const notebooks = notebooksIn(args.from, args.names);
  const python =
    findPython("jupyterlab") ??
    fail(`JupyterLab not found; "npm run lab -- --install" puts one in .venv`, 1);
  const chromium = findChromium() ?? fail(NO_CHROMIUM, 1);
  checkCjkFont();
  const lab = await startLab(python, args.from);
  let browser: Browser;
  try {
    browser = await launchChromium(chromium);
  } catch (e) {
    lab.proc.kill("SIGTERM");
    return fail((e as Error).message, 1);
  }
  try {
    for (const nb of notebooks) {
      const page = (await browser.newPage({
        viewport: { width: args.width, height: args.height },
      })) as Page;
      const started = Date.now();
      const dir = path.join(args.out, nb.replace(/\.ipynb$/, ""));
      const tree = nb.split(path.sep).map(encodeURIComponent).join("/");
      // reset: a fresh workspace, only this notebook open
      const shots = await photograph(
        page,
        `${lab.url}/lab/tree/${tree}?reset&token=${lab.token}`,
        dir,
      );
      await page.close();
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      console.log(
        `${nb.padEnd(48)} ${String(shots).padStart(2)} screenshot(s) in ` +
          `${path.relative(process.cwd(), dir)}/  (${seconds} s)`,
      );
    }
  } finally {
    await browser.close();
    lab.proc.kill("SIGTERM");
  }
}

main().catch((e) => fail((e as Error).stack ?? String(e), 1));
