import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  CHECKPOINT_MARKER,
  DecayedAdam,
  assertCheckpointTarget,
  initBackend,
  loadCheckpoint,
  readMeta,
  recoverCheckpoint,
  saveCheckpoint,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
/** The temporary folders this suite made, removed when it ends. */
const made: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-safety-"));
  made.push(dir);
  return dir;
};

/** `text` as a regular expression source that matches it literally. */
const lit = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** A regular expression of literal pieces with `.*` between them. */
const pieces = (...texts: string[]) => new RegExp(texts.map(lit).join(".*"));

/** An error check: the message begins with `prefix`. */
const startsWith = (prefix: string) => (e: Error) => {
  assert.ok(e.message.startsWith(prefix), `expected "${prefix}…", got "${e.message}"`);
  return true;
};

/** The pid of a process that has exited (spawned and waited for): surely not running. */
const deadPid = (): number => spawnSync("true").pid!;

/** A small compiled model with an Adam state after two training steps. */
async function trainedModel(): Promise<tf.Sequential> {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [3],
        units: 4,
        activation: "tanh",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  m.compile({ optimizer: new DecayedAdam(1e-2), loss: "meanSquaredError" });
  const x = tf.tensor2d([
    [0.1, 0.2, 0.3],
    [0.5, -0.4, 0.2],
  ]);
  const y = tf.tensor2d([[0.3], [-0.1]]);
  await m.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
  tf.dispose([x, y]);
  return m;
}

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const meta = (runId: string, epoch: number) => ({ runId, epoch, history: {}, seed: 1 });

/** Loads `dir` and restores its optimizer state into a fresh DecayedAdam; returns both. */
async function resume(dir: string, options?: { reset?: boolean }) {
  const ckpt = await loadCheckpoint(dir);
  const opt = new DecayedAdam(1e-2);
  ckpt.model.compile({ optimizer: opt, loss: "meanSquaredError" });
  await ckpt.restoreOptimizer(opt, options);
  return { ckpt, opt };
}

const REFUSAL =
  "; the pack did not write it and will not replace it: move it away, " +
  "choose another output folder (--out), or replace it with --force";
const DAMAGED =
  "; the checkpoint is damaged: start over with --force, or restore the folder from a copy";

describe("checkpoint safety", function () {
  this.timeout(120000);
  let model: tf.Sequential;

  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    model = await trainedModel();
  });
  after(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to replace a user's file or folder at the checkpoint unless overwrite", async () => {
    const root = tmp();
    const folder = path.join(root, "a", "checkpoint");
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, "m.ckpt"), "precious\n");
    const file = path.join(root, "b", "checkpoint"); // as TensorFlow's own index file
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'model_checkpoint_path: "model.ckpt-1"\n');
    const folderError = startsWith(
      `${folder}: is a folder of 1 item(s) (m.ckpt) without the pack's checkpoint marker${REFUSAL}`,
    );
    const fileError = startsWith(`${file}: is a file (38 bytes)${REFUSAL}`);

    assert.throws(() => assertCheckpointTarget(folder), folderError);
    assert.throws(() => assertCheckpointTarget(file), fileError);
    await assert.rejects(saveCheckpoint(folder, model, meta("r", 1)), folderError);
    await assert.rejects(saveCheckpoint(file, model, meta("r", 1)), fileError);
    assert.deepStrictEqual(fs.readdirSync(folder), ["m.ckpt"]);
    assert.strictEqual(fs.readFileSync(path.join(folder, "m.ckpt"), "utf8"), "precious\n");
    assert.strictEqual(fs.readFileSync(file, "utf8"), 'model_checkpoint_path: "model.ckpt-1"\n');
    assert.deepStrictEqual(fs.readdirSync(path.join(root, "a")), ["checkpoint"], "no staging left");
    assert.deepStrictEqual(fs.readdirSync(path.join(root, "b")), ["checkpoint"], "no staging left");

    // nothing there, an empty folder and the pack's own checkpoint pass
    assertCheckpointTarget(path.join(root, "nothing-here"));
    const empty = path.join(root, "empty");
    fs.mkdirSync(empty);
    await saveCheckpoint(empty, model, meta("r", 1));
    assertCheckpointTarget(empty);
    assert.deepStrictEqual(
      JSON.parse(fs.readFileSync(path.join(empty, CHECKPOINT_MARKER), "utf8")),
      {
        package: "advanced-neural-models",
        kind: "checkpoint",
        format: 1,
      },
    );
    // a checkpoint written before the marker existed (checkpoint.json with runId, epoch, history)
    fs.rmSync(path.join(empty, CHECKPOINT_MARKER));
    assertCheckpointTarget(empty);
    await saveCheckpoint(empty, model, meta("r", 2));
    assert.strictEqual(readMeta(empty)!.epoch, 2);
    assert.ok(fs.existsSync(path.join(empty, CHECKPOINT_MARKER)), "marked from now on");

    // with overwrite both are replaced by a checkpoint that loads
    assertCheckpointTarget(folder, { overwrite: true });
    for (const dir of [folder, file]) {
      await saveCheckpoint(dir, model, meta("r", 1), { overwrite: true });
      assert.ok(fs.statSync(dir).isDirectory());
      assert.ok(!fs.existsSync(path.join(dir, "m.ckpt")));
      assert.deepStrictEqual(weightsOf((await resume(dir)).ckpt.model), weightsOf(model));
      assertCheckpointTarget(dir);
    }
  });

  it("recovers a save killed between its two renames, from the old or the new copy", async () => {
    const root = tmp();
    const dir = path.join(root, "checkpoint");
    await saveCheckpoint(dir, model, meta("run-a", 1));
    const saved = weightsOf(model);

    // killed after `dir` -> `dir.old-PID`, with the new copy unfinished: the old copy comes back
    const pid = deadPid();
    fs.renameSync(dir, `${dir}.old-${pid}`);
    fs.mkdirSync(`${dir}.saving-${pid}`);
    fs.copyFileSync(`${dir}.old-${pid}/model.json`, `${dir}.saving-${pid}/model.json`);
    const lines = recoverCheckpoint(dir);
    assert.strictEqual(lines.length, 2, lines.join("\n"));
    assert.strictEqual(
      lines[0],
      `${dir}: restored the checkpoint of run run-a (epoch 1) from ${dir}.old-${pid}, ` +
        `left by process ${pid}, which stopped during a save`,
    );
    assert.strictEqual(
      lines[1],
      `${dir}.saving-${pid}: removed the unfinished new copy left by an interrupted save ` +
        `(process ${pid} is no longer running)`,
    );
    assert.deepStrictEqual(fs.readdirSync(root), ["checkpoint"]);
    const { ckpt, opt } = await resume(dir);
    assert.deepStrictEqual(weightsOf(ckpt.model), saved);
    assert.strictEqual(opt.iterations, 2, "the Adam state came back too");
    assert.deepStrictEqual(recoverCheckpoint(dir), [], "nothing more to do");

    // killed after the new copy was complete: it is the newer one and wins; the old one goes
    const pid2 = deadPid();
    await saveCheckpoint(dir, model, meta("run-a", 2));
    fs.renameSync(dir, `${dir}.saving-${pid2}`);
    await saveCheckpoint(path.join(root, "epoch1"), model, meta("run-a", 1));
    fs.renameSync(path.join(root, "epoch1"), `${dir}.old-${pid2}`);
    const lines2 = recoverCheckpoint(dir);
    assert.match(lines2[0], pieces(`(epoch 2) from ${dir}.saving-${pid2}`));
    assert.match(lines2[1], pieces(`${dir}.old-${pid2}: removed the previous copy`));
    assert.deepStrictEqual(fs.readdirSync(root), ["checkpoint"]);
    assert.strictEqual((await loadCheckpoint(dir)).meta.epoch, 2);
  });

  it("removes dead processes' leftovers only: a running process's and a user's stay", async () => {
    const root = tmp();
    const dir = path.join(root, "checkpoint");
    await saveCheckpoint(dir, model, meta("run-a", 1));
    const copy = (to: string) => fs.cpSync(dir, to, { recursive: true });
    const dead = deadPid();
    const sleeper = spawn("sleep", ["60"]);
    try {
      copy(`${dir}.saving-${dead}`);
      copy(`${dir}.old-${deadPid()}`);
      copy(`${dir}.saving-${process.pid}`);
      copy(`${dir}.saving-${sleeper.pid}`);
      const user = `${dir}.saving-${deadPid()}`; // named like a leftover, but not the pack's
      fs.mkdirSync(user);
      fs.writeFileSync(path.join(user, "notes.txt"), "mine\n");

      const lines = recoverCheckpoint(dir);
      assert.strictEqual(lines.length, 2, lines.join("\n"));
      for (const line of lines)
        assert.match(
          line,
          /removed the (unfinished new|previous) copy left by an interrupted save/,
        );
      assert.deepStrictEqual(
        fs.readdirSync(root).sort(),
        [
          "checkpoint",
          `checkpoint.saving-${process.pid}`,
          `checkpoint.saving-${sleeper.pid}`,
          path.basename(user),
        ].sort(),
      );
      assert.strictEqual(fs.readFileSync(path.join(user, "notes.txt"), "utf8"), "mine\n");

      // saveCheckpoint repairs first, too: a dead process's leftover is gone after the next save
      copy(`${dir}.saving-${dead}`);
      await saveCheckpoint(dir, model, meta("run-a", 2));
      assert.ok(!fs.existsSync(`${dir}.saving-${dead}`));
      assert.ok(fs.existsSync(`${dir}.saving-${sleeper.pid}`), "a running process's staging stays");
    } finally {
      sleeper.kill();
    }
  });

  it("names the damaged part in every error and says what to do", async () => {
    const dir = path.join(tmp(), "checkpoint");
    const part = (f: string) => path.join(dir, f);
    const fresh = async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      await saveCheckpoint(dir, model, meta("run-a", 1));
    };
    const orReset = " (or resume with --reset-optimizer to continue with fresh optimizer state)";

    await fresh();
    const bin = fs.readFileSync(part("optimizer.bin"));
    fs.writeFileSync(part("optimizer.bin"), bin.subarray(0, bin.length - 3));
    await assert.rejects(
      resume(dir),
      startsWith(
        `${part("optimizer.bin")}: holds ${bin.length - 3} bytes, optimizer.json describes ` +
          `${bin.length}${DAMAGED}${orReset}`,
      ),
    );

    await fresh();
    fs.writeFileSync(part("optimizer.json"), '{"className": "Adam", "specs": [');
    await assert.rejects(
      resume(dir),
      pieces(`${part("optimizer.json")}: unreadable optimizer state (`, DAMAGED),
    );
    fs.writeFileSync(part("optimizer.json"), '{"className": "Adam", "specs": [{"name": "m"}]}');
    await assert.rejects(
      resume(dir),
      startsWith(
        `${part("optimizer.json")}: weight {"name":"m"} has no valid name and shape${DAMAGED}`,
      ),
    );

    await fresh();
    fs.writeFileSync(part("weights.bin"), fs.readFileSync(part("weights.bin")).subarray(0, 10));
    await assert.rejects(
      loadCheckpoint(dir),
      pieces(`${part("weights.bin")}: holds 10 bytes, model.json describes `, DAMAGED),
    );

    await fresh();
    fs.writeFileSync(part("model.json"), "{not json");
    await assert.rejects(
      loadCheckpoint(dir),
      pieces(`${part("model.json")}: cannot read a tfjs model (`, DAMAGED),
    );

    await fresh();
    fs.writeFileSync(part("checkpoint.json"), '{"runId": "run-a", "epoch": "one"}');
    await assert.rejects(
      loadCheckpoint(dir),
      startsWith(`${part("checkpoint.json")}: not checkpoint metadata (no epoch count)${DAMAGED}`),
    );
    fs.writeFileSync(part("checkpoint.json"), "{");
    assert.throws(
      () => readMeta(dir),
      pieces(`${part("checkpoint.json")}: unreadable checkpoint metadata (`, DAMAGED),
    );
  });

  it("refuses a missing optimizer state unless asked to reset it", async () => {
    const dir = path.join(tmp(), "checkpoint");
    const missing = (file: string) => (e: Error) => {
      assert.ok(
        e.message.startsWith(
          `${path.join(dir, file)}: missing, but the checkpoint was saved with`,
        ) &&
          e.message.includes(
            "resume with --reset-optimizer to continue with fresh optimizer state",
          ),
        e.message,
      );
      return true;
    };
    await saveCheckpoint(dir, model, meta("run-a", 1));
    assert.strictEqual(readMeta(dir)!.optimizer, true, "checkpoint.json records the saved state");

    fs.rmSync(path.join(dir, "optimizer.json"));
    await assert.rejects(resume(dir), missing("optimizer.json"));
    const { opt } = await resume(dir, { reset: true });
    assert.strictEqual(opt.iterations, 0, "fresh optimizer state");

    // written before `optimizer` was recorded: a missing optimizer.json is missing state too
    const legacy = JSON.parse(fs.readFileSync(path.join(dir, "checkpoint.json"), "utf8"));
    delete legacy.optimizer;
    fs.writeFileSync(path.join(dir, "checkpoint.json"), JSON.stringify(legacy));
    fs.rmSync(path.join(dir, CHECKPOINT_MARKER));
    await assert.rejects(resume(dir), missing("optimizer.json"));

    await saveCheckpoint(dir, model, meta("run-a", 2));
    fs.rmSync(path.join(dir, "optimizer.bin"));
    await assert.rejects(resume(dir), missing("optimizer.bin"));
    assert.strictEqual((await resume(dir, { reset: true })).opt.iterations, 0);
  });

  it("reads weights only from inside the checkpoint folder", async () => {
    const root = tmp();
    const dir = path.join(root, "checkpoint");
    await saveCheckpoint(dir, model, meta("run-a", 1));
    // a file of exactly the right size outside: had it been read, loading would have succeeded
    const outside = path.join(root, "outside.bin");
    fs.copyFileSync(path.join(dir, "weights.bin"), outside);
    const modelJson = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
    const writeModelJson = (paths: string[]) => {
      modelJson.weightsManifest[0].paths = paths;
      fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(modelJson));
    };
    for (const p of ["../outside.bin", outside, "./sub/../../outside.bin"]) {
      writeModelJson([p]);
      await assert.rejects(
        loadCheckpoint(dir),
        startsWith(
          `${path.join(dir, "model.json")}: weight path ${JSON.stringify(p)} leads outside ` +
            `${dir}; only files inside the model's folder are read`,
        ),
      );
    }
    // a link inside the folder to a file outside is refused as well
    writeModelJson(["./linked.bin"]);
    fs.symlinkSync(outside, path.join(dir, "linked.bin"));
    await assert.rejects(
      loadCheckpoint(dir),
      pieces(
        `${path.join(dir, "linked.bin")}: is a link to ${outside}, outside ${dir}; only files`,
      ),
    );
    // a relative path that stays inside the folder is read
    fs.rmSync(path.join(dir, "linked.bin"));
    fs.mkdirSync(path.join(dir, "sub"));
    fs.renameSync(path.join(dir, "weights.bin"), path.join(dir, "sub", "w.bin"));
    writeModelJson(["sub/w.bin"]);
    assert.deepStrictEqual(weightsOf((await loadCheckpoint(dir)).model), weightsOf(model));
  });

  it("npm run experiment keeps a user's folder or file named checkpoint in --out", function () {
    this.timeout(300000);
    const cases: [string, (c: string) => void, (c: string) => string][] = [
      [
        "folder",
        (c) => (fs.mkdirSync(c), fs.writeFileSync(path.join(c, "m.ckpt"), "precious\n")),
        (c) => fs.readFileSync(path.join(c, "m.ckpt"), "utf8"),
      ],
      ["file", (c) => fs.writeFileSync(c, "precious\n"), (c) => fs.readFileSync(c, "utf8")],
    ];
    for (const [kind, make, read] of cases) {
      const out = tmp();
      const ckpt = path.join(out, "checkpoint");
      make(ckpt);
      const args = ["mnist", "--epochs", "1", "--train-samples", "64", "--no-charts"];
      const r = spawnSync(
        process.execPath,
        [
          path.join(ROOT, "dist", "cli", "experiment.js"),
          ...args,
          "--backend",
          "wasm",
          "--out",
          out,
        ],
        { cwd: ROOT, encoding: "utf8" },
      );
      assert.strictEqual(r.status, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, pieces(`${ckpt}: is a ${kind} `, REFUSAL), r.stderr);
      assert.strictEqual(read(ckpt), "precious\n");
      assert.deepStrictEqual(
        fs.readdirSync(out).filter((f) => f.startsWith("checkpoint")),
        ["checkpoint"],
      );
    }
  });
});
