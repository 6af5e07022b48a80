import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { MANIFEST, NativeBuild, readManifest, staleReason } from "./manifest";

/**
 * Loads the TensorFlow binding that `npm run native` built against a Python TensorFlow, and
 * registers tfjs-node's `tensorflow` backend on it (tfjs-node's own JavaScript kernels, taken from
 * the same npm tarball as the binding's sources). Never throws: a missing, stale or broken build is
 * reported in `why`, so `initBackend` can fall back and say what to do.
 */

/** The binding's functions that this package calls directly. */
export interface TfBinding {
  TF_Version: string;
  isUsingGpuDevice(): boolean;
}

/** The outcome of {@link loadNativeBuild}. */
export interface NativeLoad {
  ok: boolean;
  /** Why it is not usable, with the fix (empty when ok). */
  why: string;
  build?: NativeBuild;
  binding?: TfBinding;
  /** TensorFlow's device: `GPU` or `CPU`. */
  device?: "GPU" | "CPU";
}

let loaded: NativeLoad | undefined;

/** The fix printed with every failure. */
const REBUILD = `run "npm run native" to (re)build it`;

/**
 * Loads the build recorded in native/build.json once per process and registers the `tensorflow`
 * backend (without selecting it). Later calls return the first outcome.
 */
export function loadNativeBuild(): NativeLoad {
  if (!loaded) loaded = load();
  return loaded;
}

function load(): NativeLoad {
  let build: NativeBuild | undefined;
  try {
    build = readManifest();
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  if (!build)
    return {
      ok: false,
      why:
        `no native TensorFlow build (${path.relative(process.cwd(), MANIFEST) || MANIFEST} ` +
        `missing; "npm run native" makes one)`,
    };
  const stale = staleReason(build);
  if (stale) return { ok: false, why: `${stale}; ${REBUILD}`, build };
  if (tf.findBackendFactory("tensorflow"))
    return { ok: false, why: `another package already registered a "tensorflow" backend`, build };
  // Silences TensorFlow's INFO/WARNING logs such as its CPU-feature notice (readers get our backend
  // line instead); its "oneDNN custom operations are on" line is logged before any setting is read.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";
  let binding: TfBinding;
  try {
    binding = require(build.binding) as TfBinding;
    const dist = path.join(build.packageDir, "dist");
    const { NodeJSKernelBackend } = withModernUtil(build.packageDir, () => {
      require(path.join(dist, "register_all_kernels"));
      return require(path.join(dist, "nodejs_kernel_backend")) as {
        NodeJSKernelBackend: new (b: TfBinding, name: string) => tf.KernelBackend;
      };
    });
    // tfjs-node's kernels allow some GPU-only attributes when told they run in the GPU package.
    const packageName = binding.isUsingGpuDevice()
      ? "@tensorflow/tfjs-node-gpu"
      : "@tensorflow/tfjs-node";
    tf.registerBackend("tensorflow", () => new NodeJSKernelBackend(binding, packageName), 3);
  } catch (e) {
    return {
      ok: false,
      why:
        `the native build failed to load (${String((e as Error).message).split("\n")[0]}); ` +
        REBUILD,
      build,
    };
  }
  return { ok: true, why: "", build, binding, device: binding.isUsingGpuDevice() ? "GPU" : "CPU" };
}

/**
 * Runs `load` while tfjs-node's own files (under `dir`) get a `util` with the two helpers they call
 * that Node dropped: `util.isNullOrUndefined` is gone since Node 23 (every kernel that builds a
 * type attribute threw "is not a function" on Node 24) and `util.isArray` prints a deprecation
 * warning there. Everyone else keeps Node's own `util`; the files keep the helpers they captured.
 */
function withModernUtil<T>(dir: string, load: () => T): T {
  const Module = require("module") as {
    _load: (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;
  };
  const original = Module._load;
  const util = {
    ...(require("util") as object),
    isNullOrUndefined: (v: unknown) => v === null || v === undefined,
    isArray: Array.isArray,
  };
  Module._load = function (this: unknown, request, parent, isMain) {
    if ((request === "util" || request === "node:util") && parent?.filename?.startsWith(dir))
      return util;
    return original.call(this, request, parent, isMain);
  };
  try {
    return load();
  } finally {
    Module._load = original;
  }
}
