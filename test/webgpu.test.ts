import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { gpuTrainingError, initBackend } from "advanced-neural-models";
import { isSoftwareAdapter, probeWebGpu } from "advanced-neural-models/dist/backend/webgpu";
import { TEST_BACKEND, joinedRegExp } from "./helpers";

/**
 * The webgpu backend (Dawn through npm `webgpu`): how adapters are judged (runs everywhere), and,
 * with CH10_TEST_BACKEND=webgpu, what this package adds to tfjs-webgpu in Node: the backend line,
 * synchronous reads, and a lost device ending training with a message instead of a hang.
 */
const ROOT = path.join(__dirname, "..");

describe("WebGPU adapters", () => {
  it("CPU renderers count as software; GPUs, integrated ones included, do not", () => {
    const adapter = (
      vendor: string,
      architecture: string,
      description: string,
      isFallbackAdapter = false,
    ) => ({ vendor, architecture, device: "", description, isFallbackAdapter });
    assert.ok(
      isSoftwareAdapter(adapter("mesa", "software", "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)")),
    );
    assert.ok(isSoftwareAdapter(adapter("google", "", "SwiftShader Device (Subzero)")));
    assert.ok(isSoftwareAdapter(adapter("microsoft", "", "Microsoft Basic Render Driver")));
    assert.ok(isSoftwareAdapter(adapter("", "", "", true)));
    assert.ok(!isSoftwareAdapter(adapter("nvidia", "ampere", "NVIDIA GeForce RTX 3060")));
    assert.ok(!isSoftwareAdapter(adapter("intel", "gen-12lp", "Intel(R) Iris(R) Xe Graphics")));
    assert.ok(!isSoftwareAdapter(adapter("apple", "metal-3", "Apple M2")));
    assert.ok(
      !isSoftwareAdapter(adapter("amd", "rdna-3", "AMD Radeon 780M Graphics (RADV PHOENIX)")),
    );
  });

  it("a failed training run names the batch size and what to try", async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
    const model = tf.sequential({
      name: "tiny",
      layers: [tf.layers.dense({ inputShape: [2], units: 1 })],
    });
    const oom = gpuTrainingError(
      new Error("out of GPU memory: Out of memory allocating a buffer"),
      model,
      256,
    );
    assert.match(
      oom.message,
      joinedRegExp(
        /^train: out of GPU memory: .* while training "tiny" with batchSize 256 on webgpu; /,
        /restart the kernel or process .*, then use a smaller batch \(batchSize: 128\)/,
      ),
    );
    const lost = gpuTrainingError(
      new Error("the WebGPU device was lost (unknown: driver reset)"),
      model,
      1,
    );
    assert.match(
      lost.message,
      joinedRegExp(
        /device was lost .*batchSize 1 on webgpu; restart the kernel or process, /,
        /then try a smaller batch \(batchSize: 1\) or another backend/,
      ),
    );
    model.dispose();
  });
});

(TEST_BACKEND === "webgpu" ? describe : describe.skip)(
  "what this package adds to tfjs-webgpu in Node",
  function () {
    this.timeout(300000);
    before(async () => {
      const info = await initBackend({ backend: "webgpu", quiet: true });
      const probe = await probeWebGpu();
      const by = process.env.CH10_BACKEND ? "CH10_BACKEND" : "option";
      assert.strictEqual(info.line, `backend: webgpu (${probe.adapter}): requested by ${by}`);
      assert.match(probe.adapter, /\S/);
    });

    // a GPU would be chosen
    it("the automatic search passes over a CPU renderer, saying so", async function () {
      const probe = await probeWebGpu();
      if (!probe.software) this.skip();
      const script =
        'require("advanced-neural-models").initBackend().then(() => undefined, ' +
        '(e) => { console.log("error: " + e.message); process.exit(3); })';
      // else a CPU build of npm run native would be chosen first
      const noNative = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-no-native-"));
      const r = spawnSync(process.execPath, ["-e", script], {
        cwd: ROOT,
        env: { ...process.env, CH10_BACKEND: "", CH10_NATIVE_DIR: noNative },
        encoding: "utf8",
      });
      fs.rmSync(noNative, { recursive: true, force: true });
      assert.strictEqual(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        joinedRegExp(
          /^backend: wasm .*WebGPU's only adapter is a CPU renderer \(.+\), /m,
          /slower than this backend/,
        ),
      );
    });

    it("dataSync/arraySync read GPU results synchronously, equal to the async read", async () => {
      const x = tf.randomNormal([3, 37, 5], 0, 1, "float32", 3);
      const y = tf.tidy(() =>
        tf.matMul(tf.reshape(x, [3 * 37, 5]), tf.transpose(tf.reshape(x, [3 * 37, 5]))),
      );
      const z = tf.tidy(() => tf.argMax(y, 1));
      const b = tf.tidy(() => tf.greater(y, 0));
      const sync = [y.dataSync().slice(), z.dataSync().slice(), b.dataSync().slice()];
      const again = tf.tidy(() =>
        tf.matMul(tf.reshape(x, [3 * 37, 5]), tf.transpose(tf.reshape(x, [3 * 37, 5]))),
      );
      const async = [
        await again.data(),
        await tf.tidy(() => tf.argMax(again, 1)).data(),
        await tf.tidy(() => tf.greater(again, 0)).data(),
      ];
      sync.forEach((s, i) => assert.deepStrictEqual(Array.from(s), Array.from(async[i])));
      assert.strictEqual(z.dtype, "int32");
      // against float64 brute force: the diagonal is each row's squared norm
      const xs = x.dataSync();
      for (let r = 0; r < 3 * 37; r += 13) {
        let norm = 0;
        for (let k = 0; k < 5; k++) norm += xs[r * 5 + k] ** 2;
        assert.ok(Math.abs(sync[0][r * 3 * 37 + r] - norm) < 1e-4 * Math.max(1, norm));
      }
      tf.dispose([x, y, z, b, again]);
    });

    /**
     * Trains a small model in a fresh Node and makes
     * `sabotage` happen after batch 3; returns its output.
     */
    function trainAndSabotage(sabotage: string) {
      const script = `
      const tf = require("@tensorflow/tfjs");
      const { initBackend, train } = require("advanced-neural-models");
      (async () => {
        await initBackend({ backend: "webgpu", quiet: true });
        const m = tf.sequential({
          name: "doomed",
          layers: [
            tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }),
            tf.layers.dense({ units: 1 }),
          ],
        });
        m.compile({ optimizer: "sgd", loss: "meanSquaredError" });
        const x = tf.randomNormal([64, 4]), y = tf.randomNormal([64, 1]);
        class Saboteur extends tf.Callback {
          batches = 0;
          async onBatchEnd() {
            if (++this.batches === 3) {
              const device = tf.backend().device;
              ${sabotage};
            }
          }
        }
        const callbacks = [new Saboteur()];
        await train(m, x, y, { epochs: 50, batchSize: 16, progress: false, callbacks });
        console.log("finished");
      })().catch((e) => { console.log("error: " + e.message); process.exit(3); });`;
      const r = spawnSync(process.execPath, ["-e", script], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 120000,
      });
      assert.strictEqual(
        r.status,
        3,
        `exit ${r.status} signal ${r.signal}: ${r.stdout} ${r.stderr}`,
      );
      return r.stdout;
    }

    it("a device lost during training ends it with an error naming the batch size, no hang", () => {
      assert.match(
        trainAndSabotage("device.destroy()"),
        joinedRegExp(
          /error: train: the WebGPU device was lost \(destroyed: .*\) /,
          /while training "doomed" with batchSize 16 on webgpu; restart/,
        ),
      );
    });

    it("out of GPU memory while training: an error with the batch size and a smaller one", () => {
      // the event Dawn raises when an allocation fails, dispatched as the device would
      const oom =
        'device.dispatchEvent(new GPUUncapturedErrorEvent("uncapturederror", ' +
        '{ error: new GPUOutOfMemoryError("allocation of 512 MiB failed") }))';
      assert.match(
        trainAndSabotage(oom),
        joinedRegExp(
          /error: train: out of GPU memory: allocation of 512 MiB failed /,
          /while training "doomed" with batchSize 16 on webgpu; /,
          /restart .* then use a smaller batch \(batchSize: 8\)/,
        ),
      );
    });
  },
);
