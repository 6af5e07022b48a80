import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  estimateTrainingBytes,
  initBackend,
  mnistCnn,
  planThreads,
  readRecord,
  threadsThatFit,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

const cores = os.availableParallelism();

describe("training threads are bounded (cores, batch, memory)", () => {
  let model: tf.LayersModel;
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    model = mnistCnn();
    model.compile({ optimizer: "adam", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  });
  after(() => model.dispose());

  it("a request above the cores is cut to the cores, and the plan says so", () => {
    const plan = planThreads(model, 256, 999, "wasm", 1e15);
    assert.strictEqual(plan.threads, Math.min(cores, 256));
    assert.match(
      plan.cut ?? "",
      new RegExp(`the threads option asks for 999 threads; using ${plan.threads} .*${cores} core`),
    );
  });

  it("a request is cut to the threads whose estimated peaks fit in memory together", () => {
    // a memory limit at which exactly two threads fit: the peaks of 2 shards of 128 rows,
    // not 3 of 86
    const two = 2 * estimateTrainingBytes(model, 128);
    const three = 3 * estimateTrainingBytes(model, 86);
    assert.ok(three > two, "a third thread adds its runtime and weights");
    const limit = (two + three) / 2 / 0.75;
    assert.strictEqual(threadsThatFit(model, 256, 16, limit), 2);
    assert.strictEqual(threadsThatFit(model, 256, 16, two / 0.75 - 1), 1);
    const plan = planThreads(model, 256, Math.max(cores, 3), "wasm", two / 0.75 - 1);
    assert.strictEqual(plan.threads, 1);
    assert.match(plan.cut ?? "", /using 1 \(the most that \d+ GiB of memory allows\)/);
    // auto is bounded the same way
    assert.strictEqual(planThreads(model, 256, "auto", "wasm", two / 0.75 - 1).threads, 1);
  });

  it("CH10_THREADS takes decimal whole numbers only", () => {
    const saved = process.env.CH10_THREADS;
    try {
      for (const bad of ["0x10", "1e3", "2.5", "-1", "0"]) {
        process.env.CH10_THREADS = bad;
        assert.throws(
          () => planThreads(model, 256, undefined, "wasm"),
          new RegExp(
            `threads must be a whole number >= 1 or "auto" .*got "${bad.replace(".", "\\.")}"`,
          ),
        );
      }
    } finally {
      if (saved === undefined) delete process.env.CH10_THREADS;
      else process.env.CH10_THREADS = saved;
    }
  });

  it("CH10_THREADS=999 npm run experiment trains on at most the cores, saying so", function () {
    this.timeout(300_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "threads-"));
    try {
      const cli = path.join(__dirname, "..", "dist", "cli", "experiment.js");
      const args = ["mnist", "--epochs", "1", "--train-samples", "512", "--no-charts"];
      const r = spawnSync(process.execPath, [cli, ...args, "--out", out], {
        encoding: "utf8",
        env: { ...process.env, CH10_THREADS: "999", CH10_BACKEND: "wasm" },
      });
      assert.strictEqual(r.status, 0, r.stderr);
      const cut =
        /CH10_THREADS asks for 999 threads; using (\d+) \(the most that .+ allows?\)/.exec(
          r.stderr,
        );
      assert.ok(cut, `no line saying the request was cut in:\n${r.stderr}`);
      const threads = readRecord(out)!.timings.threads!;
      assert.ok(threads >= 1 && threads <= cores, `trained on ${threads} threads, ${cores} cores`);
      assert.ok(threads <= Number(cut[1]), "trained on no more threads than the line says");
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
