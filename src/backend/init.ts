import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { findTensorFlowPython } from "../native/python-tf";
import { setUpKernel } from "../notebook/kernel-setup";
import { installFastDropout } from "./dropout";
import { registerFallbackKernels } from "./fallback-kernels";
import { NativeLoad, loadNativeBuild } from "../native/load";
import { installNativeBatchNorm } from "../native/batchnorm";
import { registerNativeKernels } from "../native/kernels";
import { loadSimdFilterGrad } from "./simd-filter-grad";
import { WebGpuProbe, probeWebGpu } from "./webgpu";

/**
 * How much faster the native build trains the chapter's CNNs than wasm on the same CPU (median of
 * the MNIST and Fashion ratios in environment.md's bench table); quoted in the wasm line's hint.
 */
const NATIVE_SPEEDUP = "4x";

/**
 * Backends this package can select. `tensorflow` is native TensorFlow via tfjs-node(-gpu);
 * `webgpu` is tfjs-webgpu on Dawn (npm `webgpu`), any GPU with Vulkan, Metal or Direct3D 12.
 */
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Every {@link BackendName}, in the order the automatic search prefers them on a GPU machine. */
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];

/**
 * The environment variable that forces a backend (`tensorflow`, `webgpu`, `wasm`, `cpu` or
 * `auto`).
 */
export const BACKEND_ENV = "CH10_BACKEND";

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Force a backend; default: the `CH10_BACKEND` variable, else automatic. */
  backend?: BackendName | "auto";
  /** Do not print the chosen backend (default false: print one line). */
  quiet?: boolean;
}

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  name: BackendName;
  /** Device detail, e.g. `GPU`, `CPU`, `SIMD, 1 thread`, or the WebGPU adapter. */
  detail: string;
  /** Why this backend, e.g. `@tensorflow/tfjs-node not installed`. */
  reason: string;
  /** The line printed: `backend: wasm (SIMD, 1 thread): @tensorflow/tfjs-node not installed`. */
  line: string;
}

let chosen: BackendInfo | undefined;

/**
 * Picks and activates the fastest working TensorFlow.js backend, in this order:
 * 1. `@tensorflow/tfjs-node-gpu` when installed and a GPU is usable;
 * 2. the binding `npm run native` built against a Python TensorFlow (native/build.json) when that
 *    TensorFlow sees a GPU; a stale build (TensorFlow moved, upgraded or removed) is skipped with
 *    the reason and the fix in the printed line;
 * 3. `webgpu` on a hardware adapter (not a CPU renderer such as llvmpipe or SwiftShader): the
 *    line names it;
 * 4. that native build on CPU;
 * 5. `@tensorflow/tfjs-node` when its native binding really registers (danfojs-node's npm
 *    override installs plain tfjs under that name, so a successful `require` proves nothing);
 * 6. `wasm` (SIMD, single-threaded in Node);
 * 7. `cpu` (pure JavaScript).
 * An explicit choice (option or `CH10_BACKEND`) skips the search and fails loudly if unavailable.
 * Then (re-)registers the fallback kernels (fallback-kernels.ts), so every chapter layer can train on wasm
 * and cpu, and on wasm assembles the SIMD filter-gradient kernel (simd-filter-grad.ts).
 * Silences tfjs's "install tfjs-node" banner and prints one line saying what was chosen and why.
 * Inside a tslab kernel it also sets the kernel up ({@link setUpKernel}: stoppable training, the
 * stop button, chained zeromq sends); importing the library installs none of this, and outside a
 * kernel `fit` and zeromq stay tfjs's and zeromq's own. Everything it installs is installed once.
 * Safe to call more than once: a call without a choice returns the current backend; `"auto"`
 * searches again.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const explicit = options.backend ?? process.env[BACKEND_ENV];
  const requested = parseRequest(explicit);
  if (!chosen || (explicit !== undefined && requested !== chosen.name)) {
    chosen = requested === "auto" ? await autoSelect() : await forceSelect(requested);
  }
  registerFallbackKernels();
  if (registerNativeKernels()) installNativeBatchNorm();
  if (chosen.name === "wasm") await loadSimdFilterGrad();
  installFastDropout();
  silenceCpuBanner();
  setUpKernel();
  return report(chosen, options.quiet);
}

/**
 * The active tfjs backend as one of {@link BACKEND_NAMES}, for code that must pass it on (the
 * data-parallel workers start on the same one); with `expected` (what {@link initBackend}
 * returned), also checks that tfjs still runs it.
 * @throws when tfjs runs a backend this pack does not set up (another library changed it).
 */
export function activeBackend(expected?: BackendInfo): BackendName {
  const name = tf.getBackend();
  if (expected && expected.name !== name)
    throw new Error(
      `the backend passed in is ${expected.name}, but tfjs is running ${name}: ` +
        `call initBackend({ backend: "${expected.name}" }) again, or pass what it returns now`,
    );
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(
    `the active tfjs backend "${name}" is none of ${BACKEND_NAMES.join(", ")}; ` +
      "call initBackend() to choose one",
  );
}

/** The backend chosen by the last {@link initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return chosen;
}

function parseRequest(value: string | undefined): BackendName | "auto" {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(
    `initBackend: unknown backend "${value}" (from option or ${BACKEND_ENV}): ` +
      `expected ${BACKEND_NAMES.join(", ")} or auto`,
  );
}

interface NativeProbe {
  ok: boolean;
  gpu: boolean;
  why: string;
}

/**
 * Loads a native TensorFlow binding package and checks that it really registered the
 * `tensorflow` backend.
 */
function probeNative(pkg: string): NativeProbe {
  let installedName: string;
  try {
    installedName = (require(`${pkg}/package.json`) as { name: string }).name;
  } catch {
    return { ok: false, gpu: false, why: `${pkg} not installed` };
  }
  if (installedName !== pkg) {
    // danfojs-node's override installs plain tfjs under this name; loading it would only
    // re-register tfjs's gradients.
    return {
      ok: false,
      gpu: false,
      why: `${pkg} is an alias of ${installedName}, not native TensorFlow`,
    };
  }
  try {
    require(pkg);
  } catch (e) {
    return { ok: false, gpu: false, why: `${pkg} failed to load (${firstLine(e)})` };
  }
  if (!tf.findBackendFactory("tensorflow")) {
    return {
      ok: false,
      gpu: false,
      why: `${pkg} is installed but is not native TensorFlow (no "tensorflow" backend registered)`,
    };
  }
  return { ok: true, gpu: nativeUsesGpu(), why: "" };
}

function nativeUsesGpu(): boolean {
  const backend = tf.findBackend("tensorflow") as unknown as {
    isUsingGpuDevice?: () => boolean;
    binding?: { isUsingGpuDevice?: () => boolean };
  } | null;
  try {
    return Boolean(backend?.isUsingGpuDevice?.() ?? backend?.binding?.isUsingGpuDevice?.());
  } catch {
    return false;
  }
}

async function autoSelect(): Promise<BackendInfo> {
  const reasons: string[] = [];
  const gpu = probeNative("@tensorflow/tfjs-node-gpu");
  if (gpu.ok && gpu.gpu && (await tf.setBackend("tensorflow"))) {
    return info("tensorflow", "GPU", "@tensorflow/tfjs-node-gpu with a usable GPU");
  }
  reasons.push(gpu.ok ? "@tensorflow/tfjs-node-gpu finds no usable GPU" : gpu.why);
  const built = gpu.ok ? undefined : loadNativeBuild();
  if (built?.ok && built.device === "GPU" && (await tf.setBackend("tensorflow")))
    return info("tensorflow", builtDetail(built), "");
  const web = await probeWebGpu();
  if (web.ok && !web.software && (await tf.setBackend("webgpu").catch(() => false)))
    return info("webgpu", web.adapter, "");
  if (built?.ok && (await tf.setBackend("tensorflow")))
    return info("tensorflow", builtDetail(built), "");
  if (built) reasons.push(built.why);
  reasons.push(webGpuSkipped(web));
  const cpuNative = gpu.ok ? gpu : probeNative("@tensorflow/tfjs-node");
  if (cpuNative.ok && (await tf.setBackend("tensorflow"))) {
    return info(
      "tensorflow",
      "CPU",
      reasons.concat(cpuNative === gpu ? [] : ["native @tensorflow/tfjs-node"]).join("; "),
    );
  }
  if (cpuNative !== gpu) reasons.push(cpuNative.why);
  if (await tf.setBackend("wasm").catch(() => false)) {
    if (!built?.build && findTensorFlowPython())
      reasons.push(
        `Python TensorFlow found: "npm run native" builds a backend on it ` +
          `that trains the chapter's CNNs about ${NATIVE_SPEEDUP} faster`,
      );
    return info("wasm", wasmDetail(), reasons.join("; "));
  }
  reasons.push("wasm failed to initialise");
  await tf.setBackend("cpu");
  return info("cpu", "JavaScript", reasons.join("; "));
}

async function forceSelect(name: BackendName): Promise<BackendInfo> {
  const requested = `requested by ${process.env[BACKEND_ENV] ? BACKEND_ENV : "option"}`;
  if (name === "webgpu") {
    const web = await probeWebGpu();
    if (!web.ok)
      throw new Error(`initBackend: backend "webgpu" requested but unavailable: ${web.why}`);
    if (!(await tf.setBackend("webgpu").catch(() => false)))
      throw new Error(
        `initBackend: backend "webgpu" requested but its device failed to start on ${web.adapter}`,
      );
    return info("webgpu", web.adapter, requested);
  }
  if (name === "tensorflow") {
    const gpu = probeNative("@tensorflow/tfjs-node-gpu");
    const built = gpu.ok ? undefined : loadNativeBuild();
    const cpuNative = gpu.ok || built?.ok ? undefined : probeNative("@tensorflow/tfjs-node");
    if (!gpu.ok && !built?.ok && !cpuNative?.ok) {
      throw new Error(
        `initBackend: backend "tensorflow" requested but unavailable: ` +
          `${gpu.why}; ${built?.why}; ${cpuNative?.why}`,
      );
    }
    if (!(await tf.setBackend("tensorflow").catch(() => false)))
      throw new Error(`initBackend: backend "tensorflow" requested but it failed to initialise`);
    return info(
      "tensorflow",
      built?.ok ? builtDetail(built) : nativeUsesGpu() ? "GPU" : "CPU",
      requested,
    );
  }
  const ok = await tf.setBackend(name).catch(() => false);
  if (!ok) throw new Error(`initBackend: backend "${name}" requested but it failed to initialise`);
  return info(name, name === "wasm" ? wasmDetail() : "JavaScript", requested);
}

/** Why WebGPU was passed over in the automatic search. */
function webGpuSkipped(web: WebGpuProbe): string {
  if (!web.ok) return web.why;
  const renderer = web.adapter.replace(/^software: /, "");
  return `WebGPU's only adapter is a CPU renderer (${renderer}), slower than this backend`;
}

/** `TensorFlow 2.21.0, CPU, built by npm run native`. */
function builtDetail(n: NativeLoad): string {
  const version = n.binding?.TF_Version ?? n.build?.tensorflow.version;
  return `TensorFlow ${version}, ${n.device}, built by npm run native`;
}

function wasmDetail(): string {
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  const threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  return `${simd ? "SIMD" : "no SIMD"}, ${threads ? "multi-threaded" : "1 thread"}`;
}

function info(name: BackendName, detail: string, reason: string): BackendInfo {
  return {
    name,
    detail,
    reason,
    line: `backend: ${name} (${detail})${reason ? `: ${reason}` : ""}`,
  };
}

function report(b: BackendInfo, quiet = false): BackendInfo {
  if (!quiet) console.log(b.line);
  return b;
}

/**
 * The cpu backend prints an "install tfjs-node" banner on first use; readers get our backend line
 * instead.
 */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu && "firstUse" in cpu) cpu.firstUse = false;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}
