import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_ENV, MODE_ENV, initBackend, runMode } from "advanced-neural-models";
import { joinedRegExp } from "./helpers";

describe("run mode", () => {
  it("defaults to 'default' and picks per mode", () => {
    const mode = runMode({});
    assert.strictEqual(mode.name, "default");
    assert.strictEqual(mode.pick({ smoke: 1, default: 2, full: 3 }), 2);
    assert.strictEqual(
      runMode({ [MODE_ENV]: " SMOKE " }).pick({ smoke: 1, default: 2, full: 3 }),
      1,
    );
    assert.match(
      runMode({ [MODE_ENV]: "full" }).describe(),
      /^Run mode: full .*CH10_MODE=smoke\|default\|full/,
    );
  });

  it("rejects unknown modes naming the variable", () => {
    assert.throws(
      () => runMode({ [MODE_ENV]: "fast" }),
      /CH10_MODE="fast" is not a run mode: expected smoke, default or full/,
    );
  });
});

describe("initBackend", () => {
  const saved = process.env[BACKEND_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = saved;
  });

  it("picks native TensorFlow only when it really registers, else wasm, and says why", async () => {
    delete process.env[BACKEND_ENV];
    const info = await initBackend({ backend: "auto", quiet: true });
    if (tf.findBackendFactory("tensorflow")) {
      assert.strictEqual(info.name, "tensorflow");
    } else {
      assert.strictEqual(info.name, "wasm");
      assert.match(
        info.line,
        joinedRegExp(
          /^backend: wasm \(SIMD, 1 thread\): @tensorflow\/tfjs-node-gpu not installed; /,
          /no native TensorFlow build \(native\/build\.json missing; /,
          /"npm run native" makes one\); /,
          /WebGPU( finds no (adapter|Vulkan driver)|'s only adapter is a CPU renderer)/,
          / \(.*\)[^;]*; /,
          /@tensorflow\/tfjs-node is an alias of @tensorflow\/tfjs, not native TensorFlow/,
          "(",
          /; Python TensorFlow found: "npm run native" builds a backend on it /,
          /that trains the chapter's CNNs about \d+x faster/,
          ")?$",
        ),
      );
    }
    assert.strictEqual(tf.getBackend(), info.name);
  });

  it("is safe to call twice and honours an explicit choice", async () => {
    const a = await initBackend({ quiet: true });
    const b = await initBackend({ quiet: true });
    assert.deepStrictEqual(a, b);
    const cpu = await initBackend({ backend: "cpu", quiet: true });
    assert.strictEqual(tf.getBackend(), "cpu");
    assert.match(cpu.reason, /requested/);
    process.env[BACKEND_ENV] = "wasm";
    assert.strictEqual((await initBackend({ quiet: true })).name, "wasm");
  });

  it("prints no tfjs-node banner on the cpu backend", async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    try {
      await initBackend({ backend: "cpu", quiet: true });
      tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync());
    } finally {
      console.warn = warn;
      await initBackend({ backend: "wasm", quiet: true });
    }
    assert.deepStrictEqual(
      warnings.filter((w) => /tfjs-node/.test(w)),
      [],
    );
  });

  it("rejects unknown backends and unavailable native TensorFlow clearly", async () => {
    await assert.rejects(
      initBackend({ backend: "metal" as never, quiet: true }),
      /unknown backend "metal".*expected tensorflow, webgpu, wasm, cpu or auto/,
    );
    if (!tf.findBackendFactory("tensorflow")) {
      await assert.rejects(
        initBackend({ backend: "tensorflow", quiet: true }),
        /backend "tensorflow" requested but unavailable/,
      );
    }
  });
});

describe("fallback kernels survive a second copy of the tfjs bundle", () => {
  // danfojs's tfjs-node alias re-registers tfjs's own gradients
  it("re-applies the dilation-aware gradient after danfojs's tfjs-node alias", async () => {
    require("@tensorflow/tfjs-node"); // what `import "danfojs-node"` does
    await initBackend({ quiet: true });
    const g = tf.tidy(() =>
      tf
        .grad((x: tf.Tensor) =>
          tf.sum(
            tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, "same", "NHWC", 2),
          ),
        )(tf.ones([1, 5, 5, 1]))
        .dataSync(),
    );
    // centre pixel: all 9 dilated taps land inside the 5x5 image
    assert.strictEqual(g[12], 9);
  });
});
