import * as tf from "@tensorflow/tfjs";
import wabt from "wabt";
import type { ConvInfo } from "./conv-grad";

/**
 * The filter gradient of a 2-D convolution as a hand-written WebAssembly SIMD kernel that works
 * in place on the wasm backend's heap.
 *
 * dW[ky, kx, c, o] = Σ_{b, y, x} Xpad[b, y·sh + ky·dh, x·sw + kx·dw, c] · dY[b, y, x, o] is a
 * matrix product whose reduction runs over every output pixel of the batch (100,352 for one
 * 128-image MNIST layer) while the result is tiny (9 x 16 x 32). XNNPACK, built for inference,
 * does not block that long reduction: written as one convolution (conv2dFilterGradByConv) it
 * streams megabytes of packed operand from L3 per output tile and reaches 9-15 GFLOP/s here.
 * This kernel walks the batch one output row at a time, so the input rows and the gradient row it
 * reads stay in L1, and keeps a 4 x 8 block of dW in eight SIMD registers for the whole row
 * (rank-1 updates: a broadcast input value times a vector of output channels): 20-26 GFLOP/s,
 * about what XNNPACK reaches on the forward convolutions (wasm SIMD has no fused multiply-add).
 *
 * The module is generated as WebAssembly text below and assembled once by `wabt`; it imports the
 * wasm backend's own memory, so no tensor is copied.
 */

/**
 * Register tiles: input channels per tile (largest first, ending with 1) times output channels
 * (8, then 4 for a remainder). 4 x 8 needs 11 of the 16 SIMD registers V8 uses on x64; 5 x 8 and
 * 6 x 8 (more work per load) measured 20-30% slower, spilling registers.
 */
const ROW_TILES = [4, 1];
const [WIDE, NARROW] = [8, 4];

const get = (name: string) => `(local.get $${name})`;
const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;

/**
 * One register tile: `rows` input channels x `cols` output channels, accumulated over `$n`
 * consecutive output pixels of a row. `$op` points at dW[tap, c0, o0]; rows of dW are `$oStride`
 * bytes apart; the input advances `$xStep` bytes per pixel, the gradient `$dStep`. (Unrolling
 * two or four pixels per pass measured 5-15% slower.)
 */
function tileFunction(rows: number, cols: number): string {
  const vectors = cols / 4;
  const acc = (r: number, v: number) => `c${r}_${v}`;
  const rowPtr = (r: number) =>
    r === 0 ? get("op") : add(get("op"), mul(get("oStride"), `(i32.const ${r})`));
  const locals: string[] = [];
  const load: string[] = [];
  const update = Array.from(
    { length: vectors },
    (_, v) => `(local.set $d${v} (v128.load offset=${16 * v} ${get("dp")}))`,
  );
  const store: string[] = [];
  for (let r = 0; r < rows; r++) {
    locals.push(`(local $a${r} v128)`);
    update.push(`(local.set $a${r} (v128.load32_splat offset=${4 * r} ${get("xp")}))`);
    for (let v = 0; v < vectors; v++) {
      locals.push(`(local $${acc(r, v)} v128)`);
      load.push(`(local.set $${acc(r, v)} (v128.load offset=${16 * v} ${rowPtr(r)}))`);
      const product = `(f32x4.mul ${get(`a${r}`)} ${get(`d${v}`)})`;
      update.push(`(local.set $${acc(r, v)} (f32x4.add ${get(acc(r, v))} ${product}))`);
      store.push(`(v128.store offset=${16 * v} ${rowPtr(r)} ${get(acc(r, v))})`);
    }
  }
  for (let v = 0; v < vectors; v++) locals.push(`(local $d${v} v128)`);
  const params = ["xp", "dp", "op", "n", "xStep", "dStep", "oStride"];
  return `(func $tile${rows}x${cols} ${params.map((p) => `(param $${p} i32)`).join(" ")}
  ${locals.join(" ")}
  ${load.join("\n  ")}
  (loop $pixels
    ${update.join("\n    ")}
    (local.set $xp ${add(get("xp"), get("xStep"))})
    (local.set $dp ${add(get("dp"), get("dStep"))})
    (br_if $pixels (local.tee $n (i32.sub ${get("n")} (i32.const 1)))))
  ${store.join("\n  ")})`;
}

/**
 * `while (cond) { body; v += step }` in WebAssembly text, after `v = init` unless init is null.
 * `body` must not branch to the labels.
 */
function whileLoop(
  v: string,
  init: string | null,
  cond: string,
  step: string,
  body: string,
  label = v,
): string {
  return `${init === null ? "" : `(local.set $${v} ${init})`}
  (block $${label}_end (loop $${label}_next
    (br_if $${label}_end (i32.eqz ${cond}))
    ${body}
    (local.set $${v} ${add(get(v), step)})
    (br $${label}_next)))`;
}

/** `for (v = 0; cond; v += step) body` in WebAssembly text. */
function forLoop(v: string, cond: string, step: string, body: string): string {
  return whileLoop(v, "(i32.const 0)", cond, step, body);
}

/** The exported entry: loops over batch, output rows, taps and channel tiles, calling the tiles. */
function mainFunction(): string {
  const params = [
    "x",
    "dy",
    "out",
    "batch",
    "outH",
    "outW",
    "cin",
    "cout",
    "hp",
    "wp",
    "kh",
    "kw",
    "sh",
    "sw",
    "dh",
    "dw",
  ];
  const locals = [
    "n",
    "h",
    "ky",
    "kx",
    "ci",
    "co",
    "dyRow",
    "xRow",
    "xTap",
    "oTap",
    "xStep",
    "dStep",
    "oStride",
  ];
  const i32 = (name: string) => `(i32.const ${name})`;
  const bytes = (a: string) => mul(a, i32("4"));
  const tileCalls = (rows: number) => {
    const call = (cols: number) => {
      const xp = add(get("xTap"), bytes(get("ci")));
      const dp = add(get("dyRow"), bytes(get("co")));
      const op = add(get("oTap"), bytes(add(mul(get("ci"), get("cout")), get("co"))));
      const strides = ["outW", "xStep", "dStep", "oStride"].map((name) => get(name)).join(" ");
      return `(call $tile${rows}x${cols} ${xp} ${dp}
      ${op} ${strides})`;
    };
    const wide = i32(String(WIDE));
    const wideTiles = forLoop(
      "co",
      `(i32.le_u ${add(get("co"), wide)} ${get("cout")})`,
      wide,
      call(WIDE),
    );
    return `${wideTiles}
    (if (i32.lt_u ${get("co")} ${get("cout")}) (then ${call(NARROW)}))`;
  };
  const channelTiles = ROW_TILES.map((rows, i) =>
    whileLoop(
      "ci",
      i === 0 ? i32("0") : null,
      `(i32.le_u ${add(get("ci"), i32(String(rows)))} ${get("cin")})`,
      i32(String(rows)),
      tileCalls(rows),
      `ci${rows}`,
    ),
  ).join("\n    ");
  // the input row read for output row h at tap row ky, the tap's row in dW, the output row in dy
  const inputRow = add(
    mul(get("n"), get("hp")),
    add(mul(get("h"), get("sh")), mul(get("ky"), get("dh"))),
  );
  const tap = add(mul(get("ky"), get("kw")), get("kx"));
  const outputRow = add(mul(get("n"), get("outH")), get("h"));
  const taps = forLoop(
    "ky",
    `(i32.lt_u ${get("ky")} ${get("kh")})`,
    i32("1"),
    `
    (local.set $xRow ${add(get("x"), bytes(mul(mul(inputRow, get("wp")), get("cin"))))})
    ${forLoop(
      "kx",
      `(i32.lt_u ${get("kx")} ${get("kw")})`,
      i32("1"),
      `
      (local.set $xTap ${add(get("xRow"), bytes(mul(mul(get("kx"), get("dw")), get("cin"))))})
      (local.set $oTap ${add(get("out"), bytes(mul(mul(tap, get("cin")), get("cout"))))})
      ${channelTiles}`,
    )}`,
  );
  const rowsLoop = forLoop(
    "n",
    `(i32.lt_u ${get("n")} ${get("batch")})`,
    i32("1"),
    forLoop(
      "h",
      `(i32.lt_u ${get("h")} ${get("outH")})`,
      i32("1"),
      `
      (local.set $dyRow ${add(get("dy"), bytes(mul(mul(outputRow, get("outW")), get("cout"))))})
      ${taps}`,
    ),
  );
  return `(func (export "conv2dFilterGrad") ${params.map((p) => `(param $${p} i32)`).join(" ")}
  ${locals.map((l) => `(local $${l} i32)`).join(" ")}
  (local.set $xStep ${bytes(mul(get("sw"), get("cin")))})
  (local.set $dStep ${bytes(get("cout"))})
  (local.set $oStride ${bytes(get("cout"))})
  ${rowsLoop})`;
}

/** The kernel module as WebAssembly text. */
function filterGradModuleText(): string {
  return `(module
(import "env" "memory" (memory 1))
${ROW_TILES.flatMap((r) => [WIDE, NARROW].map((c) => tileFunction(r, c))).join("\n")}
${mainFunction()})`;
}

type Entry = (...args: number[]) => void;

/** The parts of the WebAssembly API used here (the project's type libraries do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface WasmBackendInternals {
  wasm: { asm: { memory: object }; HEAPF32: Float32Array };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

let compiled: object | undefined;
/** The instance bound to the current wasm backend's memory (a new backend has a new memory). */
let bound: { memory: object; entry: Entry } | undefined;

/** Set when the module could not be built (warned once). */
let failed = false;

/** Whether the kernel is assembled in this thread (`initBackend` does it when it chooses wasm). */
export function simdFilterGradReady(): boolean {
  return compiled !== undefined;
}

/**
 * Assembles the kernel module from its WebAssembly text (once per thread, ~50 ms). Called by
 * `initBackend` when it chooses wasm; until then {@link conv2dFilterGradSimd} declines. Where the
 * module cannot be built (a JavaScript engine without WebAssembly SIMD), warns once and leaves
 * the filter gradients to the XNNPACK-based paths.
 */
export async function loadSimdFilterGrad(): Promise<void> {
  if (compiled || failed) return;
  try {
    const parsed = (await wabt()).parseWat("filter-grad.wat", filterGradModuleText(), {
      simd: true,
    });
    try {
      compiled = new wasmApi.Module(parsed.toBinary({}).buffer);
    } finally {
      parsed.destroy();
    }
  } catch (e) {
    failed = true;
    const reason = e instanceof Error ? e.message : String(e);
    console.warn(
      `SIMD filter-gradient kernel unavailable (${reason}); ` +
        "convolutions train on the slower XNNPACK path",
    );
  }
}

function entryFor(backend: WasmBackendInternals): Entry {
  const memory = backend.wasm.asm.memory;
  if (!bound || bound.memory !== memory) {
    const instance = new wasmApi.Instance(compiled!, { env: { memory } });
    bound = { memory, entry: instance.exports.conv2dFilterGrad as Entry };
  }
  return bound.entry;
}

/**
 * The filter gradient `[kh, kw, in, out]` of a float32 NHWC convolution on the wasm backend, or
 * undefined where this kernel does not apply (another backend, module not loaded, output channels
 * not a multiple of 4): the caller then takes another path. Any stride, dilation and padding.
 */
export function conv2dFilterGradSimd(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  info: ConvInfo,
): tf.Tensor4D | undefined {
  if (
    !compiled ||
    tf.getBackend() !== "wasm" ||
    info.outChannels % NARROW !== 0 ||
    x.dtype !== "float32" ||
    dy.dtype !== "float32"
  )
    return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const { top, left } = info.padInfo;
  const rowsNeeded =
    (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const colsNeeded =
    (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  const bottom = Math.max(rowsNeeded - top - info.inHeight, 0);
  const right = Math.max(colsNeeded - left - info.inWidth, 0);
  const padded =
    top > 0 || left > 0 || bottom > 0 || right > 0
      ? tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ])
      : x;
  const dyFloats = dy.size;
  const out = backend.makeOutput(
    [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels],
    "float32",
  );
  const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
  const outSize = info.filterHeight * info.filterWidth * info.inChannels * info.outChannels;
  backend.wasm.HEAPF32.fill(0, outOffset / 4, outOffset / 4 + outSize);
  if (dyFloats > 0) {
    entryFor(backend)(
      backend.dataIdMap.get(padded.dataId).memoryOffset,
      backend.dataIdMap.get(dy.dataId).memoryOffset,
      outOffset,
      info.batchSize,
      info.outHeight,
      info.outWidth,
      info.inChannels,
      info.outChannels,
      padded.shape[1],
      padded.shape[2],
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.dilationHeight,
      info.dilationWidth,
    );
  }
  if (padded !== x) padded.dispose();
  return (
    tf.engine() as unknown as { makeTensorFromTensorInfo(i: tf.TensorInfo): tf.Tensor }
  ).makeTensorFromTensorInfo(out) as tf.Tensor4D;
}
