import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { inDeno } from "../notebook/deno-runtime";

/**
 * The `webgpu` backend in Node: Google's Dawn (npm `webgpu`, a prebuilt `dawn.node` for Linux,
 * macOS and Windows) gives Node the browser's `navigator.gpu`, and
 * `@tensorflow/tfjs-backend-webgpu` trains on it. Both are optional dependencies: everything here
 * reports what is missing instead of throwing, so `initBackend` can fall back and say why.
 * In Deno the same Dawn addon loads (Node-API), and Deno's own `navigator.gpu` (wgpu) is the
 * other choice ({@link WEBGPU_ENV}).
 */

/** The minimal WebGPU surface this module touches (Dawn implements the full one). */
interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}
interface GpuDevice {
  lost: Promise<{ reason: string; message: string }>;
  addEventListener(
    type: "uncapturederror",
    listener: (event: { error: { message: string; constructor: { name: string } } }) => void,
  ): void;
  destroy(): void;
}
interface GpuAdapter {
  info: GpuAdapterInfo;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor: unknown): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(options?: {
    powerPreference?: "high-performance" | "low-power";
  }): Promise<GpuAdapter | null>;
}

/** What {@link probeWebGpu} found. */
export interface WebGpuProbe {
  /** An adapter was found and the `webgpu` backend is registered on it (not selected). */
  ok: boolean;
  /** The adapter is a CPU emulating a GPU (Mesa llvmpipe/lavapipe, SwiftShader, WARP...). */
  software: boolean;
  /** `NVIDIA ampere, NVIDIA GeForce RTX 3060` or `software: llvmpipe: Mesa 25.0.7 ...`. */
  adapter: string;
  /** Why it is not usable (empty when ok). */
  why: string;
}

/**
 * Where to load Dawn's `dawn.node` from instead of the
 * `webgpu` package (the GPU-check bundle sets it).
 */
export const DAWN_ENV = "CH10_DAWN_NODE";

/**
 * Which WebGPU implementation to train on: `dawn` (npm `webgpu`; Node's only one) or, in Deno,
 * `deno` (Deno's built-in `navigator.gpu`, wgpu). In Deno the default is Dawn when it loads
 * (synchronous reads such as `dataSync()` work on it), else Deno's own.
 */
export const WEBGPU_ENV = "CH10_WEBGPU";
/** The WebGPU implementations {@link WEBGPU_ENV} names. */
export type WebGpuImplementation = "dawn" | "deno";

/** What each implementation is called in the backend line. */
const IMPLEMENTATION_LABEL: Record<WebGpuImplementation, string> = {
  dawn: "Dawn",
  deno: "Deno's wgpu",
};

/** Limits tfjs-webgpu asks the device for: the adapter's own maxima. */
const RAISED_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
];

/** Adapter descriptions of software renderers (a CPU emulating a GPU). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|basic render|warp/i;

let probed: Promise<WebGpuProbe> | undefined;
let failure: Error | undefined;
let pendingError: Error | undefined;
const failureListeners = new Set<(e: Error) => void>();

/**
 * Loads Dawn and tfjs-webgpu once per process, asks for the high-performance adapter, and
 * registers the `webgpu` backend on it (without selecting it). Never throws.
 */
export function probeWebGpu(): Promise<WebGpuProbe> {
  probed ??= probe().catch((e) => ({
    ok: false,
    software: false,
    adapter: "",
    why: `WebGPU failed to start (${firstLine(e)})`,
  }));
  return probed;
}

/**
 * The WebGPU to use: {@link WEBGPU_ENV} if set (checked), else Dawn, or in Deno Dawn when it loads
 * and Deno's own otherwise; or why there is none.
 */
function loadGpu(): { gpu: Gpu; implementation: WebGpuImplementation } | string {
  const asked = process.env[WEBGPU_ENV];
  if (asked && asked !== "dawn" && asked !== "deno")
    return `${WEBGPU_ENV}=${asked}: expected dawn or deno`;
  if (asked === "deno" && !inDeno())
    return `${WEBGPU_ENV}=deno: Deno's own WebGPU exists only in Deno (this is Node.js)`;
  const own = inDeno() ? denoGpu() : undefined;
  if (asked !== "deno") {
    const dawn = loadDawn();
    if (typeof dawn !== "string") return { gpu: dawn, implementation: "dawn" };
    if (asked === "dawn" || !own) return dawn;
  }
  return own
    ? { gpu: own, implementation: "deno" }
    : "Deno's navigator.gpu is missing (a Deno without WebGPU)";
}

/** Deno's built-in `navigator.gpu` (wgpu), before Dawn may replace it. */
let denoOwnGpu: Gpu | undefined;
function denoGpu(): Gpu | undefined {
  denoOwnGpu ??= (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
  return denoOwnGpu;
}

async function probe(): Promise<WebGpuProbe> {
  const noVulkan = missingVulkanDriver();
  if (noVulkan) return { ok: false, software: false, adapter: "", why: noVulkan };
  const loaded = loadGpu();
  if (typeof loaded === "string") return { ok: false, software: false, adapter: "", why: loaded };
  const { gpu, implementation } = loaded;
  if (implementation === "deno") installNavigatorGpu(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter)
    return {
      ok: false,
      software: false,
      adapter: "",
      why:
        "WebGPU finds no adapter (no GPU driver with Vulkan, Metal or Direct3D 12; " +
        "on Linux without a GPU, Mesa 25's lavapipe gives a software one)",
    };
  const software = isSoftwareAdapter(adapter.info);
  const label = `${describeAdapter(adapter.info, software)}; ${IMPLEMENTATION_LABEL[implementation]}`;
  try {
    registerBackend(adapter, implementation);
  } catch (e) {
    const missing = (e as { code?: string }).code === "MODULE_NOT_FOUND";
    return {
      ok: false,
      software,
      adapter: label,
      why: missing
        ? "@tensorflow/tfjs-backend-webgpu not installed (an optional dependency)"
        : `@tensorflow/tfjs-backend-webgpu failed to load (${firstLine(e)})`,
    };
  }
  return { ok: true, software, adapter: label, why: "" };
}

/**
 * On Linux Dawn reaches the GPU through Vulkan; without a Vulkan driver (no ICD file where the
 * Vulkan loader looks) it would only print four warnings on stderr and find nothing, so it is not
 * loaded. Elsewhere (Metal, Direct3D 12) undefined.
 */
export function missingVulkanDriver(): string | undefined {
  if (process.platform !== "linux" || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES)
    return undefined;
  const data = (process.env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":");
  const dirs = [
    "/etc/vulkan/icd.d",
    ...data.map((d) => path.join(d, "vulkan", "icd.d")),
    path.join(os.homedir(), ".local", "share", "vulkan", "icd.d"),
  ];
  const found = dirs.some(
    (d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith(".json")),
  );
  return found
    ? undefined
    : "WebGPU finds no Vulkan driver (no ICD file in /usr/share/vulkan/icd.d or " +
        "/etc/vulkan/icd.d: a GPU driver's Vulkan part, or Mesa 25's lavapipe, installs one)";
}

/**
 * Dawn's `navigator.gpu` (from `CH10_DAWN_NODE` or the `webgpu` package), installed on Node's
 * globals with the WebGPU constants tfjs-webgpu reads (`GPUBufferUsage`, `GPUMapMode`...); or why
 * it cannot load. Dawn reads `XDG_RUNTIME_DIR` on Linux and prints errors without it, so a private
 * folder is set when the variable is missing.
 */
function loadDawn(): Gpu | string {
  const platform =
    process.platform === "darwin" ? "darwin-universal" : `${process.platform}-${process.arch}`;
  let binary = process.env[DAWN_ENV];
  if (!binary) {
    try {
      binary = path.join(
        path.dirname(require.resolve("webgpu/package.json")),
        "dist",
        platform,
        "dawn.node",
      );
    } catch {
      return "webgpu (Dawn) not installed (an optional dependency)";
    }
  }
  if (!fs.existsSync(binary))
    return process.env[DAWN_ENV]
      ? `${DAWN_ENV}=${binary}: no such file`
      : `webgpu (Dawn) has no build for ${platform}`;
  if (process.platform === "linux" && !process.env.XDG_RUNTIME_DIR)
    process.env.XDG_RUNTIME_DIR = privateRuntimeDir();
  let dawn: { create(flags: string[]): Gpu; globals: Record<string, unknown> };
  try {
    dawn = require(binary);
  } catch (e) {
    return `webgpu (Dawn) failed to load (${firstLine(e)})`;
  }
  for (const [k, v] of Object.entries(dawn.globals))
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = dawn.create([]);
  installNavigatorGpu(gpu);
  return gpu;
}

/** Makes `gpu` the `navigator.gpu` that tfjs-webgpu reads. */
function installNavigatorGpu(gpu: Gpu): void {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  else
    Object.defineProperty(globalThis, "navigator", {
      value: { gpu },
      configurable: true,
      writable: true,
    });
}

function privateRuntimeDir(): string {
  const dir = path.join(os.tmpdir(), `ch10-xdg-${process.getuid?.() ?? "user"}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** True for CPU renderers posing as GPUs: they run shaders far slower than the wasm backend. */
export function isSoftwareAdapter(info: GpuAdapterInfo): boolean {
  return (
    Boolean(info.isFallbackAdapter) ||
    info.architecture === "software" ||
    SOFTWARE_ADAPTER.test(`${info.description} ${info.device}`)
  );
}

/** One line naming the adapter: vendor, architecture, description. */
function describeAdapter(info: GpuAdapterInfo, software: boolean): string {
  // Deno's wgpu gives a PCI vendor number (65541 is Mesa's), not a name
  const parts = [info.vendor, info.architecture]
    .filter((p) => p && p !== "software" && !/^\d+$/.test(p))
    .join(" ");
  const text = [parts, info.description || info.device].filter(Boolean).join(", ");
  return `${software ? "software: " : ""}${text || "unnamed adapter"}`;
}

/**
 * Replaces tfjs-webgpu's own registration (made when the package loads, on whatever adapter it
 * finds then) by one on the adapter probed here; the device reports loss and uncaptured errors
 * (out of memory among them) to {@link webgpuFailure} instead of leaving tfjs to wait forever.
 */
function registerBackend(adapter: GpuAdapter, implementation: WebGpuImplementation): void {
  const { WebGPUBackend } = require("@tensorflow/tfjs-backend-webgpu") as {
    WebGPUBackend: new (device: GpuDevice, info: GpuAdapterInfo) => tf.KernelBackend;
  };
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend(
    "webgpu",
    async () => {
      const requiredLimits = Object.fromEntries(RAISED_LIMITS.map((k) => [k, adapter.limits[k]]));
      const requiredFeatures = adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
      const request = () => adapter.requestDevice({ requiredFeatures, requiredLimits });
      // Deno's WebGPU has no event pump to call: its reads are asynchronous only
      const { value: device, tick } =
        implementation === "dawn"
          ? await capturingEventPump(request)
          : { value: await request(), tick: undefined };
      watch(device);
      // By default tfjs-webgpu computes an op in JavaScript when all its inputs are small (< 1,000
      // values) and not uploaded yet: a second arithmetic whose rounding differs from the GPU's,
      // chosen by where a tensor happens to live. Here every op runs on the GPU.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      const backend = new WebGPUBackend(device, adapter.info);
      installSyncRead(backend as unknown as SyncReadable, tick, implementation);
      return backend;
    },
    1,
  );
}

/**
 * Runs `start` (Dawn's `requestDevice`) while noting the native function Dawn hands to
 * `setImmediate`: the one that processes Dawn's pending events (buffer mappings among them).
 * Calling it is what lets {@link installSyncRead} finish a mapping without returning to the event
 * loop.
 */
async function capturingEventPump<T>(
  start: () => Promise<T>,
): Promise<{ value: T; tick?: () => void }> {
  const original = globalThis.setImmediate;
  let tick: (() => void) | undefined;
  const spy = function (this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]) {
    if (!tick && Function.prototype.toString.call(fn).includes("[native code]"))
      tick = fn as () => void;
    return (original as (...a: unknown[]) => NodeJS.Immediate).call(this, fn, ...args);
  };
  globalThis.setImmediate = Object.assign(spy, original) as typeof setImmediate;
  try {
    return { value: await start(), tick };
  } finally {
    globalThis.setImmediate = original;
  }
}

/** The parts of tfjs-webgpu's backend that a read uses. */
interface SyncReadable {
  tensorMap: {
    get(id: object): {
      values?: tf.backend_util.BackendValues;
      dtype: tf.DataType;
      resource: GpuBuffer;
    };
  };
  bufferManager: {
    acquireBuffer(size: number, usage: number): GpuBuffer;
    releaseBuffer(b: GpuBuffer): void;
  };
  commandEncoder: {
    copyBufferToBuffer(
      src: GpuBuffer,
      so: number,
      dst: GpuBuffer,
      dOff: number,
      size: number,
    ): void;
  };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(
    id: object,
    values: tf.backend_util.BackendValues,
  ): tf.backend_util.BackendValues;
  readSync(id: object): tf.backend_util.BackendValues;
}
interface GpuBuffer {
  size: number;
  mapState: "unmapped" | "pending" | "mapped";
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

/** Longest wait for one synchronous read before it is reported as stuck. */
const SYNC_READ_LIMIT_MS = 10 * 60 * 1000;

/**
 * `dataSync()`/`arraySync()` on the webgpu backend. tfjs-webgpu reads synchronously through an
 * `OffscreenCanvas`, which only browsers have ("OffscreenCanvas is not defined" in Node); here the
 * tensor is copied to a mappable buffer as the asynchronous read does, and Dawn's event pump is
 * called until the mapping completes (the thread sleeps between polls). Without the pump (another
 * Dawn build), a clear error says to read with `await tensor.data()`.
 */
function installSyncRead(
  backend: SyncReadable,
  tick: (() => void) | undefined,
  implementation: WebGpuImplementation,
): void {
  const original = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    const data = backend.tensorMap.get(dataId);
    if (data.values != null || data.dtype === "string" || data.dtype === "complex64")
      return original(dataId);
    if (!tick)
      throw new Error(
        implementation === "deno"
          ? "webgpu: dataSync()/arraySync() cannot read from the GPU on Deno's own WebGPU (it " +
              "maps buffers asynchronously only); use await tensor.data() / tensor.array(), or " +
              `train on Dawn's (unset ${WEBGPU_ENV})`
          : "webgpu: dataSync()/arraySync() cannot read from the GPU synchronously with this " +
              "Dawn build; use await tensor.data() / tensor.array()",
      );
    const size = data.resource.size;
    const staging = backend.bufferManager.acquireBuffer(
      size,
      GPU_BUFFER_USAGE.COPY_DST | GPU_BUFFER_USAGE.MAP_READ,
    );
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.commandEncoder.copyBufferToBuffer(data.resource, 0, staging, 0, size);
    backend.submitQueue();
    // the failure is seen through mapState and webgpuFailure
    staging.mapAsync(GPU_MAP_MODE_READ).catch(() => undefined);
    pumpUntilMapped(staging, tick);
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    backend.bufferManager.releaseBuffer(staging);
    throwIfFailed();
    return backend.convertAndCacheOnCPU(
      dataId,
      tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype),
    );
  };
}

/** WebGPU's buffer-usage and map-mode flags (fixed by the specification). */
const GPU_BUFFER_USAGE = { MAP_READ: 0x1, COPY_DST: 0x8 };
const GPU_MAP_MODE_READ = 0x1;

/** Never notified: `Atomics.wait` on it is a sub-millisecond sleep. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

function pumpUntilMapped(buffer: GpuBuffer, tick: () => void): void {
  const started = Date.now();
  for (let wait = 0.02; buffer.mapState === "pending"; wait = Math.min(wait * 2, 1)) {
    tick();
    if (buffer.mapState !== "pending") break;
    throwIfFailed();
    if (Date.now() - started > SYNC_READ_LIMIT_MS)
      throw new Error(
        `webgpu: a synchronous read waited ${SYNC_READ_LIMIT_MS / 60000} min for the GPU; ` +
          "use await tensor.data()",
      );
    Atomics.wait(SLEEPER, 0, 0, wait);
  }
  throwIfFailed();
  if (buffer.mapState !== "mapped")
    throw new Error("webgpu: mapping a buffer for a synchronous read failed");
}

function watch(device: GpuDevice): void {
  failure = undefined;
  device.lost.then(
    (info) =>
      report(
        new Error(`the WebGPU device was lost (${info.reason}: ${info.message || "no message"})`),
        true,
      ),
    () => undefined,
  );
  device.addEventListener("uncapturederror", (event) => {
    const oom =
      event.error.constructor.name === "GPUOutOfMemoryError" ||
      /out of memory/i.test(event.error.message);
    report(
      new Error(
        `${oom ? "out of GPU memory" : "a WebGPU error"}: ${firstLine(event.error.message)}`,
      ),
      oom,
    );
  });
}

/**
 * A lost device or exhausted memory stays the failure of every later read; another uncaptured
 * error (an invalid shader, say) ends the raced run in progress, or else is thrown once by the
 * next read, so its results are not trusted.
 */
function report(e: Error, fatal: boolean): void {
  if (fatal) failure ??= e;
  else if (failureListeners.size === 0) pendingError ??= e;
  failureListeners.forEach((l) => l(e));
}

/** The device loss or out-of-memory error since the backend started, if any. */
export function webgpuFailure(): Error | undefined {
  return failure;
}

/** Throws the fatal failure, or once the last other uncaptured WebGPU error. */
function throwIfFailed(): void {
  if (failure) throw failure;
  const e = pendingError;
  pendingError = undefined;
  if (e) throw e;
}

/**
 * Resolves as `work` does, unless the WebGPU device fails first (lost, out of memory, another
 * uncaptured error): then rejects at once with `explain(error)`. A read from a lost device may
 * never return; racing it ends the run with a message instead of a hang.
 */
export async function raceWebGpuFailure<T>(
  work: Promise<T>,
  explain: (e: Error) => Error,
): Promise<T> {
  let listener: ((e: Error) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    listener = (e) => reject(explain(e));
    const already = failure ?? pendingError;
    if (already) {
      if (!failure) pendingError = undefined; // a non-fatal error is reported once
      listener(already);
    } else failureListeners.add(listener);
  });
  try {
    return await Promise.race([work, failed]);
  } finally {
    if (listener) failureListeners.delete(listener);
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}
