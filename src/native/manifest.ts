import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";

/**
 * Where `npm run native` puts its build and what it records about it. The folder is the
 * project's own (`native/`, git-ignored), outside node_modules, so `npm ci` leaves it alone.
 */

/**
 * The folder of the native build: the cached tfjs-node tarball, its sources, the binding, the log.
 * `CH10_NATIVE_DIR` points elsewhere (tests use it to load a deliberately broken record).
 */
export const NATIVE_DIR = process.env.CH10_NATIVE_DIR
  ? path.resolve(process.env.CH10_NATIVE_DIR)
  : path.join(ROOT, "native");
/** The record of the last successful build. */
export const MANIFEST = path.join(NATIVE_DIR, "build.json");
/** The compiler's output of the last build. */
export const BUILD_LOG = path.join(NATIVE_DIR, "build.log");

/** One TensorFlow shared library the binding links against, as it was at build time. */
export interface LibraryStamp {
  file: string;
  size: number;
  mtimeMs: number;
}

/** What `npm run native` built, and against what. */
export interface NativeBuild {
  /**
   * The tfjs-node version whose sources were built (that of `@tensorflow/tfjs` in the lock file).
   */
  tfjsNode: string;
  /** The extracted tfjs-node package (its `dist/` has the JavaScript kernels). */
  packageDir: string;
  /** The compiled binding, `tfjs_binding.node`. */
  binding: string;
  tensorflow: {
    version: string;
    python: string;
    /**
     * The folder holding `libtensorflow_cc.so.2` and
     * `libtensorflow_framework.so.2` (the binding's rpath).
     */
    libDir: string;
    /** Whether that TensorFlow was built with CUDA, and how many GPUs it saw at build time. */
    cuda: boolean;
    gpus: number;
    libraries: LibraryStamp[];
  };
  /** The Node.js that built it (the binding is Node-API, so any supported Node loads it). */
  node: string;
  builtAt: string;
}

/**
 * Reads {@link MANIFEST}; undefined when there is no
 * build. Throws when the file is not a build record.
 */
export function readManifest(file = MANIFEST): NativeBuild | undefined {
  if (!fs.existsSync(file)) return undefined;
  let m: NativeBuild;
  try {
    m = JSON.parse(fs.readFileSync(file, "utf8")) as NativeBuild;
  } catch (e) {
    throw new Error(
      `${file} is not valid JSON (${(e as Error).message}); run "npm run native" to rebuild`,
    );
  }
  if (
    typeof m?.binding !== "string" ||
    typeof m?.tensorflow?.libDir !== "string" ||
    !Array.isArray(m.tensorflow.libraries)
  ) {
    throw new Error(
      `${file} is not a native build record (no binding or tensorflow.libDir); ` +
        'run "npm run native" to rebuild',
    );
  }
  return m;
}

/**
 * Size and modification time of a library file, to notice a TensorFlow that was upgraded in place.
 */
export function stampLibrary(file: string): LibraryStamp {
  const s = fs.statSync(file);
  return { file, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
}

/**
 * How far two readings of one unchanged file's modification time may differ: Node gives
 * `mtimeMs` with a fraction (1796282493195.6963), Deno whole milliseconds (1796282493195), so
 * one build is read from both; a reinstall moves it by far more than this.
 */
export const MTIME_TOLERANCE_MS = 1;

/**
 * Why the recorded build cannot be loaded safely, or undefined when it can: the binding is gone,
 * or the TensorFlow it was linked against vanished, moved or changed (a different library at the
 * same path would crash the process on the first mismatched call instead of failing cleanly).
 */
export function staleReason(m: NativeBuild): string | undefined {
  const tf = `TensorFlow ${m.tensorflow.version} at ${m.tensorflow.libDir}`;
  if (!fs.existsSync(m.binding)) return `the native binding ${m.binding} is missing`;
  if (!fs.existsSync(m.tensorflow.libDir))
    return `the native build was made against ${tf}, which is gone (moved or uninstalled)`;
  for (const lib of m.tensorflow.libraries) {
    const made = `the native build was made against ${tf}, but ${path.basename(lib.file)}`;
    if (!fs.existsSync(lib.file)) return `${made} is gone from there`;
    const now = stampLibrary(lib.file);
    if (now.size !== lib.size || Math.abs(now.mtimeMs - lib.mtimeMs) > MTIME_TOLERANCE_MS)
      return `${made} has changed since (TensorFlow upgraded or reinstalled?)`;
  }
  return undefined;
}
