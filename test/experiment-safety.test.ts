import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  SUNSPOTS_BOOK,
  TrainingInterrupted,
  initBackend,
  readRecord,
  requestTrainingStop,
  stopTrainingOnRequest,
  runSunspotsExperiment,
} from "advanced-neural-models";
import { TEST_BACKEND, joinedRegExp } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist", "cli", "experiment.js");
/** The lock file a run keeps in its output folder (output-folder.ts LOCK_FILE). */
const LOCK = ".advanced-neural-models.lock";

/** The temporary folders this suite made, removed when it ends. */
const made: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exp-safety-"));
  made.push(dir);
  return dir;
};

/** The environment of every CLI run: wasm, the book's settings unless a test sets CH10_MODE. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, CH10_BACKEND: "wasm", ...extra };
  if (!("CH10_MODE" in extra)) delete e.CH10_MODE;
  if (!("CH10_RESULTS" in extra)) delete e.CH10_RESULTS;
  return e;
}

/** Runs `npm run experiment -- ...args` (the built CLI) to its end. */
function experiment(args: string[], extra: Record<string, string> = {}, command: string[] = []) {
  const started = Date.now();
  const [program, ...before] = [...command, process.execPath];
  const r = spawnSync(program, [...before, CLI, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: env(extra),
    timeout: 240_000,
  });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Starts the CLI in the background; its output is collected in `output()`. */
function start(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: env() });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  return { child, output: () => text };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (polling) until `done()` holds; fails after `seconds`. */
async function until(done: () => boolean, what: string, seconds = 120): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves with the exit code and signal of `child`. */
const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

/** Every file under `dir`, relative to it, sorted. */
function files(dir: string, prefix = ""): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) =>
      d.isDirectory()
        ? files(path.join(dir, d.name), path.join(prefix, d.name))
        : [path.join(prefix, d.name)],
    )
    .sort();
}

/** `text` as a regular expression source that matches it literally. */
const lit = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The pid of a process that has exited (spawned and waited for): surely not running. */
const deadPid = (): number => spawnSync("true").pid!;

const quick = ["sunspots", "--epochs", "1", "--no-charts"];

after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm run experiment: output checked before any work (issue #25, item 5)", function () {
  this.timeout(120_000);

  /** Asserts a refusal: exit 1, `message` on stderr, no backend started, no epoch, quickly. */
  function refusedAtOnce(r: ReturnType<typeof experiment>, message: RegExp) {
    assert.strictEqual(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /^backend: /m, "the backend was started (data came next)");
    assert.doesNotMatch(r.stdout, /^epoch \d/m, "an epoch was trained");
    assert.ok(r.seconds < 30, `took ${r.seconds} s`);
  }

  it("--out naming a regular file, or a path below a file, fails at once naming the path", () => {
    const dir = tmp();
    const file = path.join(dir, "afile");
    fs.writeFileSync(file, "precious\n");
    refusedAtOnce(
      experiment([...quick, "--out", file]),
      new RegExp(`^experiment: output folder ${lit(file)} is a file, not a folder: choose another`),
    );
    const below = path.join(file, "sub");
    refusedAtOnce(
      experiment(["mnist", "--epochs", "1", "--train-samples", "64", "--out", below]),
      new RegExp(
        `output folder ${lit(below)} cannot be created: ${lit(file)} is a file, not a folder`,
      ),
    );
    assert.strictEqual(fs.readFileSync(file, "utf8"), "precious\n");
    assert.deepStrictEqual(files(dir), ["afile"], "nothing written");
  });

  it("CH10_RESULTS naming a file fails at once naming the variable", () => {
    const dir = tmp();
    const file = path.join(dir, "results-file");
    fs.writeFileSync(file, "x");
    refusedAtOnce(
      experiment(quick, { CH10_RESULTS: file }),
      new RegExp(
        `^experiment: CH10_RESULTS=${lit(file)} is a file, not a folder: set CH10_RESULTS`,
      ),
    );
    assert.deepStrictEqual(files(dir), ["results-file"]);
  });

  it("an unwritable folder fails at once (as root: run as nobody, else skipped)", function () {
    // root passes every permission check (only a read-only mount stops it): as root, the CLI is
    // run as the user nobody (runuser); without runuser or nobody the test is skipped
    const root = process.getuid?.() === 0;
    const asNobody = ["runuser", "-u", "nobody", "--"];
    if (root && spawnSync(asNobody[0], [...asNobody.slice(1), "true"]).status !== 0) this.skip();
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const locked = path.join(dir, "read-only");
    fs.mkdirSync(locked, { mode: 0o555 });
    const as = root ? asNobody : [];
    refusedAtOnce(
      experiment([...quick, "--out", locked], {}, as),
      new RegExp(`output folder ${lit(locked)} is a folder this process may not write to`),
    );
    refusedAtOnce(
      experiment([...quick, "--out", path.join(locked, "sub")], {}, as),
      new RegExp(`cannot be created: ${lit(locked)} is a folder this process may not write to`),
    );
    assert.deepStrictEqual(files(dir), [], "nothing written");
  });
});

describe("npm run experiment: CH10_MODE and numbers (issue #25, item 6)", function () {
  this.timeout(120_000);

  it("CH10_MODE=smoke takes the smoke mode's settings, said on the first line and recorded", () => {
    const out = path.join(tmp(), "smoke");
    const r = experiment(["sunspots", "--no-charts", "--out", out], { CH10_MODE: "smoke" });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stdout.split("\n")[0],
      /^settings: CH10_MODE=smoke, the notebooks' smoke mode: \{/,
    );
    const record = readRecord(out)!;
    assert.strictEqual(record.settings.epochs, 1, "smoke: one epoch, not the book's 100");
    assert.strictEqual(record.mode, "cli-smoke");
    assert.match(
      r.stdout,
      /^results\.json in /m,
      "--no-charts: the last line names results.json only",
    );
  });

  it("unset means the book's settings, full the book's too; either is said first", () => {
    const file = path.join(tmp(), "f");
    fs.writeFileSync(file, "");
    const unset = experiment(["mnist", "--epochs", "3", "--out", file]);
    assert.strictEqual(unset.status, 1);
    const first = unset.stdout.split("\n")[0];
    assert.match(first, /^settings: the book's \(CH10_MODE unset\), with --epochs 3: \{/);
    assert.match(first, /"trainSamples":60000,"testSamples":10000,"epochs":3,/);
    const full = experiment(["mnist", "--out", file], { CH10_MODE: "full" });
    assert.match(full.stdout.split("\n")[0], /^settings: CH10_MODE=full, .*"epochs":200,/);
    const smoke = experiment(["mnist", "--out", file], { CH10_MODE: "smoke" });
    assert.match(smoke.stdout, /"trainSamples":512,"testSamples":500,"epochs":1,/);
  });

  it("a bogus CH10_MODE, or CH10_MODE with --reference, is refused before anything runs", () => {
    const bogus = experiment(quick, { CH10_MODE: "bogus" });
    assert.strictEqual(bogus.status, 2);
    assert.match(
      bogus.stderr,
      joinedRegExp(
        /^experiment: CH10_MODE="bogus" is not a run mode: /,
        /expected smoke, default or full, or unset it/,
      ),
    );
    assert.strictEqual(bogus.stdout, "");
    const reference = experiment(["mnist", "--reference"], { CH10_MODE: "smoke" });
    assert.strictEqual(reference.status, 2);
    assert.match(reference.stderr, /CH10_MODE=smoke picks .*--reference .*unset CH10_MODE/);
    assert.strictEqual(reference.stdout, "");
  });

  it("numbers are decimal whole numbers within named bounds", () => {
    for (const [args, message] of [
      [
        ["mnist", "--epochs", "0x10"],
        /--epochs needs a positive whole number in decimal digits, got "0x10"/,
      ],
      [["mnist", "--epochs", "1e9"], /got "1e9"/],
      [["mnist", "--epochs", "16.0"], /got "16\.0"/],
      [["mnist", "--epochs", "-3"], /got "-3"/],
      [["mnist", "--epochs", "10001"], /--epochs 10001 is more than 10000 \(the most epochs/],
      [
        ["mnist", "--train-samples", "60001"],
        /60001 is more than 60000 \(the MNIST training set\)/,
      ],
      [
        ["fashion", "--train-samples", "384001"],
        /more than 384000 \(the book's epoch: 1500 augmented batches of 256\)/,
      ],
      [
        ["sunspots", "--seed", "2147483648"],
        /more than 2147483647 \(the largest seed, 2\*\*31-1\)/,
      ],
      [
        ["sunspots", "--seeds", "1-1001"],
        /--seeds 1-1001 is 1001 seeds; a study runs at most 1000/,
      ],
      [["sunspots", "--seeds", "1-2147483648"], /more than 2147483647/],
      [["sunspots", "--seeds", "5-3"], /--seeds needs a range like 1-10/],
      [["sunspots", "--seeds", "1,0x2"], /got "0x2"/],
      [["sunspots", "--reset-optimizer"], /--reset-optimizer applies only with --resume/],
    ] as [string[], RegExp][]) {
      const r = experiment(args);
      assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.strictEqual(r.stdout, "", `${args.join(" ")}: nothing ran`);
    }
    // the bounds themselves are accepted (the run then stops at its output folder, a file)
    const file = path.join(tmp(), "f");
    fs.writeFileSync(file, "");
    for (const [args, setting] of [
      [["mnist", "--epochs", "10000"], /"epochs":10000/],
      [["mnist", "--train-samples", "60000"], /"trainSamples":60000/],
      [["sunspots", "--seeds", "1-1000"], /--seeds 1-1000/],
      [["sunspots", "--seed", "2147483647"], /"seed":2147483647/],
    ] as [string[], RegExp][]) {
      const r = experiment([...args, "--out", file]);
      assert.strictEqual(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, setting);
      assert.match(r.stderr, /is a file, not a folder/);
    }
  });
});

describe("npm run experiment: one run per output folder (issue #25, item 5)", function () {
  this.timeout(240_000);

  it("a run on a busy --out is refused naming the first; SIGTERM removes the lock", async () => {
    const out = path.join(tmp(), "busy");
    const first = start(["sunspots", "--epochs", "500", "--no-charts", "--out", out]);
    try {
      await until(() => fs.existsSync(path.join(out, "checkpoint", "checkpoint.json")), "epoch 1");
      const second = experiment([...quick, "--out", out]);
      assert.strictEqual(second.status, 1, second.stdout + second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `^experiment: output folder ${lit(out)} is in use by process ${first.child.pid} ` +
            `\\(npm run experiment -- sunspots --epochs 500 --no-charts --out ${lit(out)}\\), ` +
            "running since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z: wait for it to end",
        ),
      );
      assert.doesNotMatch(second.stdout, /^backend: /m, "the second run started its backend");
      assert.strictEqual(first.child.exitCode, null, "the first run goes on");
      first.child.kill("SIGTERM");
      const end = await exited(first.child);
      assert.strictEqual(end.signal, "SIGTERM", first.output());
      assert.ok(!fs.existsSync(path.join(out, LOCK)), "the lock is gone");
      assert.ok(fs.existsSync(path.join(out, "checkpoint", "checkpoint.json")), "checkpoint kept");
    } finally {
      first.child.kill("SIGKILL");
    }
  });

  it("SIGINT mid-epoch ends the run within a batch and removes the lock", async () => {
    const out = path.join(tmp(), "interrupted");
    const run = start(["sunspots", "--epochs", "500", "--no-charts", "--out", out]);
    try {
      await until(() => /^epoch 1\/500 done/m.test(run.output()), "epoch 1");
      await sleep(300);
      const sent = Date.now();
      run.child.kill("SIGINT");
      const end = await exited(run.child);
      assert.strictEqual(end.signal, "SIGINT", run.output());
      assert.ok(Date.now() - sent < 5000, `took ${Date.now() - sent} ms to end`);
      assert.ok(!fs.existsSync(path.join(out, LOCK)), "the lock is gone");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("a dead process's lock is taken over, with a line; a foreign lock file is refused", () => {
    const out = path.join(tmp(), "stale");
    fs.mkdirSync(out);
    const pid = deadPid();
    const since = "2026-01-01T00:00:00.000Z";
    fs.writeFileSync(
      path.join(out, LOCK),
      JSON.stringify({
        package: "advanced-neural-models",
        pid,
        host: os.hostname(),
        command: "an old run",
        since,
      }),
    );
    const r = experiment([...quick, "--out", out]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `output folder ${lit(out)}: took over the lock of process ${pid} ` +
          `\\(an old run, since ${since}\\), which is no longer running`,
      ),
    );
    assert.strictEqual(readRecord(out)!.metrics.epochs, 1);
    assert.ok(!fs.existsSync(path.join(out, LOCK)), "the lock is gone after the run");

    const foreign = path.join(tmp(), "foreign");
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, LOCK), "mine\n");
    const refused = experiment([...quick, "--out", foreign]);
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.stderr,
      new RegExp(`${lit(path.join(foreign, LOCK))}: not a lock file of this pack`),
    );
    assert.strictEqual(fs.readFileSync(path.join(foreign, LOCK), "utf8"), "mine\n");
  });

  it("a run stopped by an interrupt (the notebook's stop button) gives its lock back", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    stopTrainingOnRequest(); // what initBackend installs inside a kernel
    const out = path.join(tmp(), "stopped");
    const stop = setTimeout(() => requestTrainingStop(), 500);
    try {
      await assert.rejects(
        runSunspotsExperiment(
          { ...SUNSPOTS_BOOK, epochs: 500 },
          { out, checkpoints: true, progress: false },
        ),
        (e: Error) => e instanceof TrainingInterrupted,
      );
    } finally {
      clearTimeout(stop);
    }
    assert.ok(!fs.existsSync(path.join(out, LOCK)), "the lock is gone");
    const again = experiment([...quick, "--out", out, "--force"]);
    assert.strictEqual(again.status, 0, again.stderr);
  });
});

describe("npm run experiment: checkpoints in --out (issue #25, items 2 and 6)", function () {
  this.timeout(240_000);

  it("--force replaces a user's checkpoint folder, saying so", () => {
    const out = tmp();
    fs.mkdirSync(path.join(out, "checkpoint"));
    fs.writeFileSync(path.join(out, "checkpoint", "m.ckpt"), "precious\n");
    const r = experiment([...quick, "--out", out, "--force"]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /checkpoint: replaced as --force asked, although the pack did not write it/,
    );
    assert.ok(!fs.existsSync(path.join(out, "checkpoint", "m.ckpt")));
    assert.ok(fs.existsSync(path.join(out, "checkpoint", "checkpoint.json")));
  });

  it("a lost optimizer state is refused on --resume unless --reset-optimizer", () => {
    const out = tmp();
    assert.strictEqual(experiment([...quick, "--out", out]).status, 0);
    fs.rmSync(path.join(out, "checkpoint", "optimizer.json"));
    const more = ["sunspots", "--epochs", "2", "--no-charts", "--out", out, "--resume"];
    const refused = experiment(more);
    assert.strictEqual(refused.status, 1, refused.stdout);
    assert.match(refused.stderr, /optimizer\.json: missing.*--reset-optimizer/);
    assert.doesNotMatch(refused.stdout, /^epoch \d/m);
    const reset = experiment([...more, "--reset-optimizer"]);
    assert.strictEqual(reset.status, 0, reset.stderr);
    assert.match(reset.stdout, /resuming with a fresh optimizer state \(--reset-optimizer\)/);
    assert.strictEqual(readRecord(out)!.metrics.epochs, 2);
  });

  it("a run whose last checkpoint was saved but not its results is finished by --resume", () => {
    const out = tmp();
    assert.strictEqual(experiment([...quick, "--out", out]).status, 0);
    const history = readRecord(out)!.history.val_loss;
    fs.rmSync(path.join(out, "results.json"));
    const r = experiment([...quick, "--out", out, "--resume"]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /all 1 epochs are done but the results were not written/);
    assert.doesNotMatch(r.stdout, /^epoch \d/m, "nothing retrained");
    assert.deepStrictEqual(readRecord(out)!.history.val_loss, history);
    const again = experiment([...quick, "--out", out, "--resume"]);
    assert.strictEqual(again.status, 1);
    assert.match(
      again.stderr,
      /the run already has 1 epochs; ask for more than that with --epochs/,
    );
  });
});

describe("npm run experiment: --seeds studies resume (issue #25, item 4)", function () {
  this.timeout(300_000);

  it("SIGKILL in seed 2 of 3, --resume: seed 1 kept, 2 resumed, 3 run, summary.json", async () => {
    const out = path.join(tmp(), "study");
    const args = ["sunspots", "--epochs", "2", "--seeds", "1-3", "--no-charts", "--out", out];
    const run = start(args);
    const seed2 = path.join(out, "seed-2", "checkpoint", "checkpoint.json");
    try {
      await until(() => fs.existsSync(seed2), "seed 2's first epoch");
      run.child.kill("SIGKILL");
      await exited(run.child);
    } finally {
      run.child.kill("SIGKILL");
    }
    assert.ok(
      !fs.existsSync(path.join(out, "seed-2", "results.json")),
      "killed before seed 2 ended",
    );
    const seed1 = path.join(out, "seed-1", "results.json");
    const seed1Text = fs.readFileSync(seed1, "utf8");
    const seed1Time = fs.statSync(seed1).mtimeMs;
    const killedAt = JSON.parse(fs.readFileSync(seed2, "utf8")) as {
      epoch: number;
      history: Record<string, number[]>;
    };
    assert.strictEqual(killedAt.epoch, 1);

    const refused = experiment(args);
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^experiment: ${lit(out)} already holds a seed study ` +
          "\\(seed 1: results of 2 epoch\\(s\\); seed 2: a checkpoint at epoch 1\\); " +
          "continue it \\(--resume\\)",
      ),
    );
    assert.doesNotMatch(refused.stdout, /^epoch \d|^seed \d/m);
    assert.deepStrictEqual(files(path.join(out, "seed-3")), [], "the refused run left nothing");

    const resumed = experiment([...args, "--resume"]);
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /^seed 1 \(1\/3\): kept, finished .*: val_mse \d\.\d{4} -> /m);
    assert.match(
      resumed.stdout,
      /^seed 2 \(2\/3\): continuing from its checkpoint \(epoch 1 of 2\)/m,
    );
    assert.match(resumed.stdout, /^seed 3 \(3\/3\): val_mse /m);
    assert.match(
      resumed.stdout,
      new RegExp(`^summary\\.json in ${lit(out)}; each seed's results\\.json in `, "m"),
    );
    assert.strictEqual(fs.readFileSync(seed1, "utf8"), seed1Text, "seed 1 was not retrained");
    assert.strictEqual(fs.statSync(seed1).mtimeMs, seed1Time);
    const record2 = readRecord(path.join(out, "seed-2"))!;
    assert.strictEqual(record2.history.val_loss.length, 2);
    assert.strictEqual(record2.history.val_loss[0], killedAt.history.val_loss[0], "epoch 1 kept");

    type Summary = {
      kind: string;
      seeds: number[];
      settings: Record<string, unknown>;
      val_mse: { median: number; min: number; max: number };
      runs: { seed: number; val_mse: number; epochs: number; kept: boolean; dir: string }[];
    };
    const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")) as Summary;
    assert.strictEqual(summary.kind, "seed study");
    assert.deepStrictEqual(summary.seeds, [1, 2, 3]);
    assert.deepStrictEqual(
      summary.runs.map((r) => [r.seed, r.kept, r.epochs, r.dir]),
      [
        [1, true, 2, "seed-1"],
        [2, false, 2, "seed-2"],
        [3, false, 2, "seed-3"],
      ],
    );
    const finals = [1, 2, 3].map((s) => readRecord(path.join(out, `seed-${s}`))!.metrics.val_mse);
    assert.deepStrictEqual(
      summary.runs.map((r) => r.val_mse),
      finals,
    );
    assert.strictEqual(summary.val_mse.median, [...finals].sort((a, b) => a - b)[1]);
    assert.strictEqual(summary.val_mse.min, Math.min(...finals));
    assert.strictEqual(summary.val_mse.max, Math.max(...finals));
    assert.strictEqual(summary.settings.epochs, 2);
    assert.ok(!("seed" in summary.settings), "the seeds are listed, not one seed");

    // resumed again, with summary.json there: everything kept, nothing trained
    const again = experiment([...args, "--resume"]);
    assert.strictEqual(again.status, 0, again.stderr);
    assert.strictEqual((again.stdout.match(/: kept, finished /g) ?? []).length, 3);
    assert.doesNotMatch(again.stdout, /continuing|^epoch \d/m);
    assert.deepStrictEqual(
      files(out).filter((f) => f.endsWith(LOCK)),
      [],
      "no lock left behind",
    );
  });
});
