import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Cell, readNotebook } from "advanced-neural-models/dist/notebook/nbformat";
import { runNotebook } from "advanced-neural-models/dist/notebook/run";
import { ensureDeno } from "advanced-neural-models/dist/notebook/deno";

const root = path.join(__dirname, "..");
const fixtures = path.join(root, "test", "fixtures", "safety");
const runnerCli = path.join(root, "dist", "cli", "run-notebooks.js");
const kernelCli = path.join(root, "dist", "cli", "kernel.js");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The temporary folders the tests made, removed after them. */
const made: string[] = [];
function tempFolder(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls `ready` every 100 ms until it holds; fails naming `what` after `ms`. */
async function waitFor(ready: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what()}`);
    await sleep(100);
  }
}

/** `pid stat args` of every live (not zombie) process whose command line contains `text`. */
function processesWith(text: string): string[] {
  const ps = spawnSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" }).stdout;
  return ps
    .split("\n")
    .filter((l) => l.includes(text) && !/^\s*\d+\s+Z/.test(l) && !l.includes("ps -eo"));
}

/** Whether a process with this id is alive (a zombie counts as gone). */
function alive(pid: number): boolean {
  const ps = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" });
  return ps.status === 0 && !ps.stdout.trim().startsWith("Z");
}

/** The text of a cell's stream outputs of one kind. */
function streamOf(cell: Cell, name: "stdout" | "stderr"): string {
  return (cell.outputs ?? [])
    .map((o) =>
      o.output_type === "stream" && o.name === name ? ([] as string[]).concat(o.text).join("") : "",
    )
    .join("");
}

/** The error outputs' first lines of a cell. */
function errorsOf(cell: Cell): string[] {
  return (cell.outputs ?? []).flatMap((o) => (o.output_type === "error" ? [o.evalue] : []));
}

/** A command started in a folder of its own, with its output collected. */
interface Started {
  dir: string;
  /** TMPDIR of the command: its kernels' `ch10-kernel-*` folders go here and nowhere else. */
  tmp: string;
  out: string;
  /** Where the spinning fixture writes "kernel-pid child-pid" once it spins. */
  marker: string;
  /** A word in the command line of the process the spinning fixture leaves in its group. */
  tag: string;
  proc: ChildProcess;
  output: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `command` with `args` and `env` (made for its folder) added to this environment. */
function start(
  command: string,
  args: (s: Started) => string[],
  env: (s: Started) => NodeJS.ProcessEnv = () => ({}),
  options: { ownGroup?: boolean } = {},
): Started {
  const dir = tempFolder("runner-safety-");
  const tmp = path.join(dir, "tmp");
  fs.mkdirSync(tmp);
  const s = {
    dir,
    tmp,
    out: path.join(dir, "out"),
    marker: path.join(dir, "marker"),
    tag: `runner-safety-child-${path.basename(dir)}`,
    output: { stdout: "", stderr: "" },
  } as Started;
  s.proc = spawn(command, args(s), {
    cwd: root,
    env: {
      ...process.env,
      TMPDIR: tmp,
      CH10_MODE: "smoke",
      CH10_BACKEND: "wasm",
      RUNNER_SAFETY_MARKER: s.marker,
      RUNNER_SAFETY_TAG: s.tag,
      ...env(s),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.ownGroup,
  });
  s.proc.stdout!.on("data", (d) => (s.output.stdout += d));
  s.proc.stderr!.on("data", (d) => (s.output.stderr += d));
  s.exited = new Promise((resolve) =>
    s.proc.on("close", (code, signal) => resolve({ code, signal })),
  );
  return s;
}

/** Runs `node dist/cli/run-notebooks.js <targets> --out <tmp>/out ...extra`. */
function runner(targets: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}): Started {
  return start(
    process.execPath,
    (s) => [runnerCli, ...targets, "--out", s.out, ...extra],
    () => env,
  );
}

/** Waits for the exit of a started command, at most `ms`. */
async function exitOf(s: Started, ms = 60_000): Promise<number | null> {
  const timer = setTimeout(() => s.proc.kill("SIGKILL"), ms);
  const { code } = await s.exited;
  clearTimeout(timer);
  return code;
}

/** Waits until the spinning fixture spins; returns the kernel's and its child's process ids. */
async function spinning(s: Started, ms = 60_000): Promise<[number, number]> {
  await waitFor(
    () => fs.existsSync(s.marker) && fs.readFileSync(s.marker, "utf8").includes(" "),
    ms,
    () => `the spinning cell to start\n${s.output.stdout}${s.output.stderr}`,
  );
  const [kernel, child] = fs.readFileSync(s.marker, "utf8").split(" ").map(Number);
  assert.strictEqual(
    processesWith(s.tmp).length,
    1,
    "the kernel runs, its connection file in TMPDIR",
  );
  assert.ok(alive(child), "the cell's child process runs");
  assert.strictEqual(fs.readdirSync(s.tmp).filter((f) => f.startsWith("ch10-kernel-")).length, 1);
  return [kernel, child];
}

/** Asserts that nothing of the run is left: no kernel, no child of a cell, no temp folder. */
function assertNothingLeft(s: Started, pids: number[]): void {
  assert.deepStrictEqual(processesWith(s.tmp), [], "no process of the run's temp folder remains");
  assert.deepStrictEqual(processesWith(s.tag), [], "the child the cell started is gone");
  for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone`);
  // npm 11 on Node 22+ keeps Node's module compile cache there (node-compile-cache): npm's, not the run's
  const left = fs.readdirSync(s.tmp).filter((name) => name !== "node-compile-cache");
  assert.deepStrictEqual(left, [], "the ch10-kernel-* folder is removed");
}

/** Asserts the executed copy of the spinning fixture: what the stopped cell printed, then why. */
function assertSpinCopy(s: Started, why: string): void {
  const copy = readNotebook(path.join(s.out, "spin.ipynb"));
  assert.strictEqual(streamOf(copy.cells[0], "stdout"), "first cell ran\n");
  assert.strictEqual(streamOf(copy.cells[1], "stdout"), "spinning now\n");
  assert.deepStrictEqual(errorsOf(copy.cells[1]), [`the run was stopped by ${why}`]);
  assert.strictEqual(copy.cells[2].execution_count, null);
}

const stopLine = (why: string, copy: string, notRun: number) =>
  new RegExp(
    `^run-notebooks: stopped by ${why.replace(/[()]/g, "\\$&")}; ` +
      `spin\\.ipynb was left unfinished ` +
      `\\(what it printed so far is in ${copy.replace(/[.]/g, "\\.")}\\), its kernel ended; ` +
      `${notRun} more notebook\\(s\\) not run$`,
    "m",
  );

(process.platform === "linux" ? describe : describe.skip)(
  "the notebook runner leaves nothing behind",
  function () {
    this.timeout(90_000);
    const spin = path.join(fixtures, "spin.ipynb");
    const hang = path.join(fixtures, "hang.ipynb");

    for (const [signal, status] of [
      ["SIGTERM", 143],
      ["SIGINT", 130],
      ["SIGHUP", 129],
    ] as const) {
      const title = `${signal} while a cell spins: kernel group ended, files gone, output kept`;
      it(`${title}, exit ${status}`, async () => {
        const run = runner([spin, hang]);
        const pids = await spinning(run);
        run.proc.kill(signal);
        assert.strictEqual(await exitOf(run, 20_000), status, run.output.stderr);
        assert.match(run.output.stderr, stopLine(signal, path.join(run.out, "spin.ipynb"), 1));
        assert.match(
          run.output.stdout,
          /spin\.ipynb\s+1\/3\s+cells\s+[\d.]+ s\s+stopped at cell 2/,
        );
        assertNothingLeft(run, pids);
        assertSpinCopy(run, signal);
        assert.ok(
          !fs.existsSync(path.join(run.out, "hang.ipynb")),
          "the next notebook did not run",
        );
      });
    }

    it("SIGKILL to the runner: its spinning kernel ends itself, its folder goes", async () => {
      const run = runner([spin]);
      const pids = await spinning(run);
      run.proc.kill("SIGKILL");
      await exitOf(run);
      await waitFor(
        () => pids.every((pid) => !alive(pid)),
        10_000,
        () => `the orphaned kernel to end: ${processesWith(run.tmp).join("\n")}`,
      );
      assertNothingLeft(run, pids);
    });

    it("SIGTERM while the kernel starts: it is ended, its folder removed", async () => {
      const run = runner([spin]);
      await waitFor(
        () => fs.readdirSync(run.tmp).some((f) => f.startsWith("ch10-kernel-")),
        30_000,
        () => `the kernel to be started\n${run.output.stderr}`,
      );
      run.proc.kill("SIGTERM");
      assert.strictEqual(await exitOf(run, 20_000), 143, run.output.stderr);
      assert.match(
        run.output.stderr,
        new RegExp(
          "^run-notebooks: stopped by SIGTERM; spin\\.ipynb was left unfinished.*, " +
            "its kernel ended; 0 more notebook\\(s\\) not run$",
          "m",
        ),
      );
      assertNothingLeft(run, []);
    });

    it("a program that dies of an uncaught error takes the kernel it started with it", async () => {
      const kernelModule = path.join(root, "dist", "notebook", "kernel.js");
      const script = `
        const { Kernel } = require(${JSON.stringify(kernelModule)});
        Kernel.start({ cwd: ${JSON.stringify(fixtures)} }).then((k) => {
          require("fs").writeFileSync(process.env.RUNNER_SAFETY_MARKER, String(k.pid));
          setTimeout(() => { throw new Error("boom"); }, 100);
        });`;
      const run = start(process.execPath, () => ["-e", script]);
      assert.strictEqual(await exitOf(run), 1, run.output.stderr);
      assert.match(run.output.stderr, /Error: boom/);
      const kernel = Number(fs.readFileSync(run.marker, "utf8"));
      assertNothingLeft(run, [kernel]);
    });

    it("SIGKILL to a program that started Deno's kernel: the kernel ends, its folder goes", async () => {
      ensureDeno();
      const kernelModule = path.join(root, "dist", "notebook", "kernel.js");
      const script = `
        const { Kernel } = require(${JSON.stringify(kernelModule)});
        Kernel.start({ kind: "deno", cwd: ${JSON.stringify(fixtures)} }).then((k) => {
          require("fs").writeFileSync(process.env.RUNNER_SAFETY_MARKER, String(k.pid));
          setInterval(() => undefined, 1000);
        });`;
      const run = start(process.execPath, () => ["-e", script]);
      await waitFor(
        () => fs.existsSync(run.marker),
        60_000,
        () => `Deno's kernel to start\n${run.output.stderr}`,
      );
      const kernel = Number(fs.readFileSync(run.marker, "utf8"));
      assert.ok(alive(kernel), "Deno's kernel runs");
      run.proc.kill("SIGKILL");
      await exitOf(run);
      await waitFor(
        () => !alive(kernel) && processesWith(run.tmp).length === 0,
        10_000,
        () => `the orphaned Deno kernel to end: ${processesWith(run.tmp).join("\n")}`,
      );
      assertNothingLeft(run, [kernel]);
    });

    it("npm run notebooks: SIGTERM to its node process stops the run; npm exits 143", async () => {
      const run = start("npm", (s) => ["run", "notebooks", "--", spin, "--out", s.out]);
      const pids = await spinning(run, 80_000);
      const node = processesWith(`run-notebooks.js ${spin} --out ${run.out}`)
        .map((l) => l.trim().split(/\s+/))
        .filter(([, , command]) => command === "node");
      assert.strictEqual(node.length, 1, "one node process runs the runner under npm and sh");
      process.kill(Number(node[0][0]), "SIGTERM");
      assert.strictEqual(await exitOf(run, 20_000), 143, run.output.stderr);
      assert.match(run.output.stderr, stopLine("SIGTERM", path.join(run.out, "spin.ipynb"), 0));
      assertNothingLeft(run, [...pids, Number(node[0][0])]);
    });

    it("npm run notebooks: SIGTERM to npm itself (its shell dies of it) stops it", async () => {
      const run = start("npm", (s) => ["run", "notebooks", "--", spin, "--out", s.out]);
      const pids = await spinning(run, 80_000);
      // sh -c "npm run build && node dist/cli/run-notebooks.js ...", and that node
      const chain = processesWith(`run-notebooks.js ${spin} --out ${run.out}`).map((l) =>
        Number(l.trim().split(/\s+/)[0]),
      );
      assert.strictEqual(chain.length, 2, "sh and node run under npm");
      run.proc.kill("SIGTERM"); // npm passes it on to sh only, which dies of it
      await exitOf(run, 20_000);
      await waitFor(
        () => [...pids, ...chain].every((pid) => !alive(pid)),
        10_000,
        () => `the runner to notice: ${processesWith(run.out).join("\n")}`,
      );
      assertNothingLeft(run, [...pids, ...chain]);
      assertSpinCopy(run, "a stop of npm (the shell it ran this in is gone)");
    });

    it("npm run notebooks: Ctrl+C (SIGINT to its whole process group) stops the run", async () => {
      const run = start(
        "npm",
        (s) => ["run", "notebooks", "--", spin, "--out", s.out],
        () => ({}),
        { ownGroup: true }, // as a terminal's foreground job: npm, its shell and the runner
      );
      const pids = await spinning(run, 80_000);
      process.kill(-run.proc.pid!, "SIGINT");
      await exitOf(run, 20_000);
      await waitFor(
        () => pids.every((pid) => !alive(pid)) && processesWith(run.out).length === 0,
        10_000,
        () => `the run to end: ${processesWith(run.out).join("\n")}`,
      );
      await waitFor(
        () => /stopped by SIGINT/.test(run.output.stderr),
        5_000,
        () => `the stop line: ${run.output.stderr}`,
      );
      assert.match(run.output.stderr, stopLine("SIGINT", path.join(run.out, "spin.ipynb"), 0));
      assertNothingLeft(run, pids);
      assertSpinCopy(run, "SIGINT");
    });

    it("a cell that hangs past --timeout or kills the kernel keeps its output", async () => {
      const run = runner([hang, path.join(fixtures, "crash.ipynb")], ["--timeout", "3"]);
      assert.strictEqual(await exitOf(run), 1, run.output.stderr);
      assert.match(run.output.stdout, /hang\.ipynb\s+1\/3\s+cells\s+[\d.]+ s\s+FAILED at cell 2/);
      assert.match(run.output.stdout, /crash\.ipynb\s+0\/1\s+cells\s+[\d.]+ s\s+FAILED at cell 1/);
      const hung = readNotebook(path.join(run.out, "hang.ipynb"));
      assert.strictEqual(streamOf(hung.cells[0], "stdout"), "before the hang\n");
      assert.strictEqual(streamOf(hung.cells[1], "stdout"), "partial output\n");
      assert.strictEqual(streamOf(hung.cells[1], "stderr"), "partial warning\n");
      assert.deepStrictEqual(errorsOf(hung.cells[1]), ["cell did not finish within 3 s"]);
      assert.strictEqual(
        hung.cells[1].outputs!.at(-1)!.output_type,
        "error",
        "the error comes last",
      );
      assert.deepStrictEqual(hung.cells[2].outputs, [], "the cell after it did not run");
      const crashed = readNotebook(path.join(run.out, "crash.ipynb"));
      assert.strictEqual(streamOf(crashed.cells[0], "stdout"), "about to exit\n");
      assert.deepStrictEqual(errorsOf(crashed.cells[0]), [
        "kernel died while running the cell: exit code 3",
      ]);
      assertNothingLeft(run, []);
    });

    it("an error thrown by a timer 2 s after the last cell fails that cell", async () => {
      const run = runner([path.join(fixtures, "late-timer.ipynb")]);
      assert.strictEqual(await exitOf(run), 1, run.output.stdout + run.output.stderr);
      assert.match(
        run.output.stdout,
        /late-timer\.ipynb\s+2\/2\s+cells\s+[\d.]+ s\s+FAILED at cell 2/,
      );
      assert.match(run.output.stdout, /0 passed, 1 failed/);
      assert.match(
        run.output.stderr,
        new RegExp(
          '^Cell 2:\n {2}\\| setTimeout\\(\\(\\) => console\\.log\\("late print"\\), 1000\\);' +
            "[^]*Error:\n {2}after the cell finished: UncaughtException: Error: late\n",
          "m",
        ),
      );
      const copy = readNotebook(path.join(run.out, "late-timer.ipynb"));
      assert.strictEqual(
        streamOf(copy.cells[1], "stdout"),
        "timers set\nlate print\n",
        "what the timers printed is in the cell that set them",
      );
      assert.deepStrictEqual(errorsOf(copy.cells[1]), [
        "after the cell finished: UncaughtException: Error: late",
      ]);
      assertNothingLeft(run, []);
    });

    it("timers pending 10 s after the last cell: noted, not failed; the wait ends", async () => {
      const started = Date.now();
      const r = await runNotebook(path.join(fixtures, "pending-interval.ipynb"));
      assert.strictEqual(r.failure, undefined, r.failure?.error);
      assert.strictEqual(
        r.stderr,
        "[runner] 1 timer(s) or request(s) still pending 10 s after the last cell: " +
          "errors they raise later are not caught\n",
      );
      assert.strictEqual(streamOf(r.notebook.cells[0], "stdout"), "interval set\n");
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds >= 10 && seconds < 40, `took ${seconds} s`);
    });

    it("a malformed .ipynb in a folder is reported as failed, the others run", async () => {
      const dir = tempFolder("runner-safety-folder-");
      const good = JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "tslab", display_name: "TypeScript" } },
        cells: [{ cell_type: "code", metadata: {}, outputs: [], source: 'console.log("ok");' }],
      });
      fs.writeFileSync(path.join(dir, "a-good.ipynb"), good);
      fs.writeFileSync(path.join(dir, "b-bad.ipynb"), "{not json");
      fs.writeFileSync(path.join(dir, "c-good.ipynb"), good);
      const run = runner([dir]);
      assert.strictEqual(await exitOf(run), 1, run.output.stdout + run.output.stderr);
      assert.match(run.output.stdout, /a-good\.ipynb\s+1\/1\s+cells\s+[\d.]+ s\s+ok/);
      assert.match(
        run.output.stdout,
        /b-bad\.ipynb\s+-\/-\s+cells\s+- s\s+FAILED: .*b-bad\.ipynb: not valid JSON \(/,
      );
      assert.match(run.output.stdout, /c-good\.ipynb\s+1\/1\s+cells\s+[\d.]+ s\s+ok/);
      assert.match(run.output.stdout, /2 passed, 1 failed/);
      assert.match(run.output.stderr, /Notebook: .*b-bad\.ipynb\nError:\n {2}.*not valid JSON/);
      assert.doesNotMatch(run.output.stderr, /^\s+at /m, "no stack");
      assert.deepStrictEqual(fs.readdirSync(run.out).sort(), ["a-good.ipynb", "c-good.ipynb"]);
      assertNothingLeft(run, []);
    });

    it("CH10_MODE=bogus: one clean line, exit 2, before any kernel starts", async () => {
      const run = runner([spin], [], { CH10_MODE: "bogus" });
      assert.strictEqual(await exitOf(run), 2);
      assert.strictEqual(
        run.output.stderr,
        'run-notebooks: CH10_MODE="bogus" is not a run mode: expected smoke, default or full\n',
      );
      assert.strictEqual(run.output.stdout, "");
      assert.deepStrictEqual(fs.readdirSync(run.tmp), [], "no kernel was started");
      assert.ok(!fs.existsSync(run.out), "nothing written");
    });

    it("--out naming a file is refused before any kernel starts", async () => {
      const file = path.join(tempFolder("runner-safety-out-"), "f");
      fs.writeFileSync(file, "precious\n");
      const run = start(process.execPath, () => [runnerCli, spin, "--out", file]);
      assert.strictEqual(await exitOf(run), 2);
      assert.match(
        run.output.stderr,
        /^run-notebooks: --out .*f: cannot write executed copies there \(.*\); name a writable/,
      );
      assert.deepStrictEqual(fs.readdirSync(run.tmp), [], "no kernel was started");
      assert.strictEqual(fs.readFileSync(file, "utf8"), "precious\n");
    });
  },
);

(process.platform === "linux" ? describe : describe.skip)(
  "npm run lab passes a stop on to JupyterLab",
  function () {
    this.timeout(60_000);

    /**
     * A stand-in for a Python with JupyterLab in `dir`: it answers the "has jupyterlab" probe, and
     * as the server writes "pid args" to `server`, the signal it got to `signal`, then exits.
     */
    function fakePython(dir: string): string {
      const python = path.join(dir, "python");
      fs.writeFileSync(
        python,
        `#!/bin/sh
if [ "$1" = "-c" ]; then exit 0; fi
echo "$$ $*" > "${dir}/server"
for s in TERM INT HUP; do trap "echo $s > '${dir}/signal'; exit 0" $s; done
while :; do sleep 0.1; done
`,
      );
      fs.chmodSync(python, 0o755);
      return python;
    }

    /** Starts `args` with the fake Python as JupyterLab's, without a display. */
    function lab(command: string, args: string[]): Started {
      return start(
        command,
        () => args,
        (s) => ({ JUPYTER_PYTHON: fakePython(s.dir), DISPLAY: "", WAYLAND_DISPLAY: "" }),
      );
    }

    /** Waits until the fake JupyterLab runs; returns its process id and its parent's. */
    async function serving(s: Started): Promise<[number, number]> {
      const server = path.join(s.dir, "server");
      await waitFor(
        () => fs.existsSync(server),
        30_000,
        () => `the fake JupyterLab to start\n${s.output.stdout}${s.output.stderr}`,
      );
      const [pid, ...args] = fs.readFileSync(server, "utf8").trim().split(" ");
      assert.deepStrictEqual(args.slice(0, 2), ["-m", "jupyterlab"]);
      const ps = spawnSync("ps", ["-o", "ppid=", "-p", pid], { encoding: "utf8" });
      return [Number(pid), Number(ps.stdout.trim())];
    }

    for (const [signal, status] of [
      ["SIGTERM", 143],
      ["SIGINT", 130],
      ["SIGHUP", 129],
    ] as const) {
      it(`${signal} to lab's node: JupyterLab gets SIGTERM and ends, exit ${status}`, async () => {
        const s = lab(process.execPath, [kernelCli, "lab"]);
        const [pid, parent] = await serving(s);
        assert.strictEqual(parent, s.proc.pid, "started by lab's node process");
        s.proc.kill(signal);
        assert.strictEqual(await exitOf(s, 20_000), status, s.output.stderr);
        assert.strictEqual(fs.readFileSync(path.join(s.dir, "signal"), "utf8"), "TERM\n");
        assert.ok(!alive(pid), "the server is gone");
        assert.deepStrictEqual(processesWith(s.dir), []);
        assert.match(s.output.stderr, new RegExp(`^lab: ${signal}: stopping JupyterLab$`, "m"));
      });
    }

    it("SIGTERM to npm run lab itself (its shell dies of it) stops JupyterLab", async () => {
      const s = lab("npm", ["run", "lab"]);
      const [pid, node] = await serving(s);
      s.proc.kill("SIGTERM");
      await exitOf(s, 20_000);
      await waitFor(
        () => !alive(pid) && !alive(node),
        10_000,
        () => `the fake JupyterLab and lab's node to end: ${processesWith(s.dir).join("\n")}`,
      );
      assert.strictEqual(fs.readFileSync(path.join(s.dir, "signal"), "utf8"), "TERM\n");
      assert.deepStrictEqual(processesWith(s.dir), []);
    });
  },
);
