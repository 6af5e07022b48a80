import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "advanced-neural-models";
import {
  NativeBuild,
  readManifest,
  stampLibrary,
  staleReason,
} from "advanced-neural-models/dist/native/manifest";
import { TEST_BACKEND, joinedRegExp } from "./helpers";

/**
 * The native-TensorFlow build's record and loader (these run everywhere), and what the
 * tensorflow backend adds to tfjs-node (these run when CH10_TEST_BACKEND=tensorflow).
 */
const ROOT = path.join(__dirname, "..");

function fakeBuild(dir: string): NativeBuild {
  const libDir = path.join(dir, "site-packages", "tensorflow");
  fs.mkdirSync(libDir, { recursive: true });
  const lib = path.join(libDir, "libtensorflow_cc.so.2");
  fs.writeFileSync(lib, "not a library");
  const binding = path.join(dir, "tfjs_binding.node");
  fs.writeFileSync(binding, "not a binding");
  return {
    tfjsNode: "4.22.0",
    packageDir: dir,
    binding,
    node: process.version,
    builtAt: new Date().toISOString(),
    tensorflow: {
      version: "2.21.0",
      python: "python3",
      libDir,
      cuda: false,
      gpus: 0,
      libraries: [stampLibrary(lib)],
    },
  };
}

/** Runs initBackend in a fresh Node with native/ pointed at `dir`; returns its output. */
function initIn(dir: string, backend?: string) {
  const script =
    'require("advanced-neural-models").initBackend().then(() => console.log("ok"), ' +
    '(e) => { console.log("error: " + e.message); process.exit(3); })';
  const env = { ...process.env, CH10_NATIVE_DIR: dir, CH10_BACKEND: backend ?? "" };
  return spawnSync(process.execPath, ["-e", script], { cwd: ROOT, env, encoding: "utf8" });
}

describe("native build record (native/build.json)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-native-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is current while its TensorFlow libraries are unchanged; names one changed or gone", () => {
    const b = fakeBuild(dir);
    assert.strictEqual(staleReason(b), undefined);
    const lib = b.tensorflow.libraries[0].file;
    fs.writeFileSync(lib, "an upgraded library, longer than before");
    assert.match(
      staleReason(b) ?? "",
      /TensorFlow 2\.21\.0 at .*, but libtensorflow_cc\.so\.2 has changed since/,
    );
    fs.rmSync(path.dirname(b.tensorflow.libDir), { recursive: true });
    assert.match(
      staleReason(b) ?? "",
      /was made against TensorFlow 2\.21\.0 at .*, which is gone \(moved or uninstalled\)/,
    );
    fs.rmSync(b.binding);
    assert.match(staleReason(b) ?? "", /native binding .* is missing/);
  });

  it("takes a whole-millisecond mtime (Deno's fs.stat) as unchanged, a same-size touch as changed", () => {
    const b = fakeBuild(dir);
    const lib = b.tensorflow.libraries[0];
    const t = new Date(1796282493195.6963);
    fs.utimesSync(lib.file, t, t);
    lib.mtimeMs = Math.trunc(fs.statSync(lib.file).mtimeMs); // as Deno records it
    assert.strictEqual(staleReason(b), undefined);
    lib.mtimeMs += 1;
    assert.strictEqual(staleReason(b), undefined);
    const later = new Date(t.getTime() + 2000);
    fs.utimesSync(lib.file, later, later);
    assert.match(staleReason(b) ?? "", /libtensorflow_cc\.so\.2 has changed since/);
  });

  it("rejects a file that is not a build record, naming it and the fix", () => {
    const file = path.join(dir, "build.json");
    fs.writeFileSync(file, "{ not json");
    assert.throws(
      () => readManifest(file),
      /build\.json is not valid JSON .*run "npm run native" to rebuild/,
    );
    fs.writeFileSync(file, JSON.stringify({ binding: 3 }));
    assert.throws(() => readManifest(file), /is not a native build record .*npm run native/);
    assert.strictEqual(readManifest(path.join(dir, "missing.json")), undefined);
  });

  it("a moved TensorFlow makes initBackend fall back with the reason and fix, not crash", () => {
    const b = fakeBuild(dir);
    fs.writeFileSync(path.join(dir, "build.json"), JSON.stringify(b));
    fs.renameSync(path.join(dir, "site-packages"), path.join(dir, "moved"));
    const auto = initIn(dir);
    assert.strictEqual(auto.status, 0, auto.stderr);
    assert.match(
      auto.stdout,
      joinedRegExp(
        /^backend: (wasm|cpu) .*native build was made against TensorFlow 2\.21\.0 at /m,
        /.*which is gone \(moved or uninstalled\); run "npm run native" to \(re\)build it/,
      ),
    );
    const forced = initIn(dir, "tensorflow");
    assert.strictEqual(forced.status, 3, `exit code ${forced.status}: ${forced.stderr}`);
    assert.match(
      forced.stdout,
      /error: initBackend: backend "tensorflow" requested but unavailable: .*which is gone/,
    );
  });

  it("a build that does not load (not a binding) is reported, not a crash", () => {
    fs.writeFileSync(path.join(dir, "build.json"), JSON.stringify(fakeBuild(dir)));
    const r = initIn(dir);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /the native build failed to load \(.*\); run "npm run native" to \(re\)build it/,
    );
  });
});

(TEST_BACKEND === "tensorflow" ? describe : describe.skip)(
  "what the tensorflow backend adds to tfjs-node",
  () => {
    before(async () => {
      const info = await initBackend({ backend: "tensorflow", quiet: true });
      assert.match(info.line, /^backend: tensorflow \(TensorFlow \d+\.\d+\.\d+, (CPU|GPU)/);
    });

    // the wasm backend's, not the cpu one: tfjs's cpu kernel is wrong for batch index >= 1
    it("tf.image.transform (bilinear, projective, constant fill) equals wasm's", async () => {
      const img = tf.randomUniform([2, 9, 7, 3], 0, 1, "float32", 5);
      const m = tf.tensor2d([
        [0.9, -0.2, 1.5, 0.1, 1.1, -0.7, 0, 0],
        [1.2, 0.3, -2, -0.1, 0.8, 1, 0.001, 0],
      ]);
      const native = tf.image
        .transform(img as tf.Tensor4D, m, "bilinear", "constant", 0.25)
        .dataSync();
      await initBackend({ backend: "wasm", quiet: true });
      const cpu = tf.image
        .transform(img as tf.Tensor4D, m, "bilinear", "constant", 0.25)
        .dataSync();
      await initBackend({ backend: "tensorflow", quiet: true });
      const diff = Array.from(native).reduce(
        (d, v, i) => Math.max(d, Math.abs(v - Number(cpu[i]))),
        0,
      );
      assert.ok(diff < 1e-5, `max difference ${diff}`);
      tf.dispose([img, m]);
    });

    // TensorFlow 2.21's oneDNN kernel gets this case wrong once another convolution ran
    it("conv2dTranspose, one input and output channel, is right after another convolution", () => {
      tf.tidy(() =>
        tf
          .conv2d(
            tf.randomNormal([1, 9, 11, 2]) as tf.Tensor4D,
            tf.randomNormal([3, 3, 2, 3]) as tf.Tensor4D,
            1,
            "valid",
          )
          .dataSync(),
      );
      const y = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 4, 3, 1]);
      const k = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3, 1, 1]);
      const got = tf.conv2dTranspose(y, k, [1, 8, 6, 1], 2, "same").dataSync();
      // brute force: every input pixel scatters its value times the kernel onto the output
      const want = new Float64Array(48);
      // same, stride 2, kernel 3, 8 rows from 4: TF pads (3 - 2 + 8 - 8) = 1 total, top 0
      const pad = 0;
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 3; j++)
          for (let a = 0; a < 3; a++)
            for (let b = 0; b < 3; b++) {
              const r = 2 * i + a - pad;
              const c = 2 * j + b - pad;
              if (r >= 0 && r < 8 && c >= 0 && c < 6)
                want[r * 6 + c] += (i * 3 + j + 1) * (a * 3 + b + 1);
            }
      assert.deepStrictEqual(Array.from(got), Array.from(want));
      tf.dispose([y, k]);
    });

    it("TensorFlow's dropout masks drop the rate's share, scale by 1/(1 - rate), per call", () => {
      const layer = tf.layers.dropout({ rate: 0.3 });
      const x = tf.ones([200, 500]);
      const a = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
      const b = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
      const zeros = a.filter((v) => v === 0).length / a.length;
      assert.ok(Math.abs(zeros - 0.3) < 0.01, `dropped share ${zeros}`);
      assert.ok(a.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6));
      assert.ok(
        a.some((v, i) => v !== b[i]),
        "two calls draw different masks",
      );
      x.dispose();
    });

    it("keeps tensor counts flat over BatchNorm and dropout training steps", async () => {
      const m = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3 }),
          tf.layers.batchNormalization(),
          tf.layers.leakyReLU({ alpha: 0.1 }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 3, activation: "softmax" }),
        ],
      });
      m.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
      const x = tf.randomNormal([16, 8, 8, 2]);
      const y = tf.oneHot(
        tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], "int32"),
        3,
      );
      await m.trainOnBatch(x, y);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) await m.trainOnBatch(x, y);
      assert.strictEqual(tf.memory().numTensors, before);
      tf.dispose([x, y]);
      m.dispose();
    });
  },
);
