import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../core/project";
import {
  BUILD_LOG,
  MANIFEST,
  NATIVE_DIR,
  NativeBuild,
  readManifest,
  stampLibrary,
  staleReason,
} from "./manifest";
import { PythonTensorFlow } from "./python-tf";

/**
 * The steps of `npm run native`: tfjs-node's addon sources from the npm registry (cached in
 * native/cache), compiled by npm's node-gyp against a Python TensorFlow's headers and C library,
 * checked symbol by symbol, recorded in native/build.json, and loaded once in a child process.
 * Every failure is an Error whose message says what is missing and what to do.
 */

/** The shared libraries of a pip TensorFlow that hold its C and eager C APIs. */
export const TF_LIBRARIES = ["libtensorflow_cc.so.2", "libtensorflow_framework.so.2"];

/** The tfjs version in the lock file: the tfjs-node sources must match the tfjs that runs them. */
export function lockedTfjsVersion(): string {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
    packages?: Record<string, { version?: string }>;
  };
  const v = lock.packages?.["node_modules/@tensorflow/tfjs"]?.version;
  if (!v)
    throw new Error(
      `package-lock.json has no node_modules/@tensorflow/tfjs entry; run "npm install" first`,
    );
  return v;
}

/** The npm CLI that runs this script (npm sets npm_execpath), else `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  return cli && cli.endsWith(".js") ? [process.execPath, [cli]] : ["npm", []];
}

function run(command: string, args: string[], options: { cwd?: string } = {}) {
  return spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
}

/**
 * Returns the extracted `@tensorflow/tfjs-node@version` package folder, fetching its tarball
 * with `npm pack` (the configured npm registry, integrity-checked by npm) only when not cached.
 */
export function tfjsNodeSources(version: string): string {
  const dir = path.join(NATIVE_DIR, `tfjs-node-${version}`);
  if (
    fs.existsSync(path.join(dir, "binding", "tfjs_backend.cc")) &&
    fs.existsSync(path.join(dir, "dist", "nodejs_kernel_backend.js"))
  )
    return dir;
  const cache = path.join(NATIVE_DIR, "cache");
  const tarball = path.join(cache, `tensorflow-tfjs-node-${version}.tgz`);
  fs.mkdirSync(cache, { recursive: true });
  if (!fs.existsSync(tarball)) {
    console.log(`native: fetching @tensorflow/tfjs-node@${version} sources from the npm registry`);
    const [npm, pre] = npmCommand();
    const r = run(npm, [
      ...pre,
      "pack",
      `@tensorflow/tfjs-node@${version}`,
      "--pack-destination",
      cache,
      "--silent",
    ]);
    if (r.status !== 0 || !fs.existsSync(tarball)) {
      const why = (r.stderr || r.error?.message || "").trim().split("\n").pop();
      throw new Error(
        `npm pack @tensorflow/tfjs-node@${version} failed: ${why}. ` +
          "The npm registry must be reachable for the first build.",
      );
    }
  }
  const tmp = fs.mkdtempSync(path.join(NATIVE_DIR, ".extract-"));
  const r = run("tar", ["-xzf", tarball, "-C", tmp]);
  if (r.status !== 0)
    throw new Error(
      `could not extract ${tarball} (${(r.stderr || r.error?.message || "").trim()}); ` +
        "delete it and run again",
    );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(path.join(tmp, "package"), dir);
  fs.rmSync(tmp, { recursive: true, force: true });
  return dir;
}

/** The C++ compiler node-gyp will use ($CXX, else c++); throws when there is none. */
export function checkCompiler(): string {
  const cxx = process.env.CXX ?? "c++";
  const r = run(cxx, ["--version"]);
  if (r.status !== 0)
    throw new Error(
      `no C++ compiler: "${cxx} --version" failed (${r.error?.message ?? r.stderr.trim()}). ` +
        "Install one (Debian/Ubuntu: apt-get install g++; macOS: xcode-select --install), " +
        "or set CXX.",
    );
  return r.stdout.split("\n")[0];
}

/**
 * A folder with Node.js's C headers (`include/node/node_api.h`): npm's `nodedir`, else the running
 * Node's own install. node-gyp would otherwise download them, which this build never does.
 */
export function nodeHeaders(): string {
  const [npm, pre] = npmCommand();
  const configured =
    process.env.npm_config_nodedir || run(npm, [...pre, "config", "get", "nodedir"]).stdout?.trim();
  const candidates = [configured, path.resolve(process.execPath, "..", "..")].filter(
    (d): d is string => Boolean(d) && d !== "undefined" && d !== "null",
  );
  const found = candidates.find((d) =>
    fs.existsSync(path.join(d, "include", "node", "node_api.h")),
  );
  if (!found)
    throw new Error(
      `no Node.js headers: include/node/node_api.h is in none of ${candidates.join(", ")}. ` +
        "Install Node.js with its headers (Debian's nodejs package has them; the official " +
        "tarballs too) or point npm at them: npm config set nodedir <folder>.",
    );
  return found;
}

/** npm's own node-gyp (npm ships it), so nothing extra is installed. */
export function nodeGyp(): string {
  const [, pre] = npmCommand();
  const roots = [
    pre[0] ? path.resolve(path.dirname(pre[0]), "..") : undefined,
    path.join(run("npm", ["root", "-g"]).stdout?.trim() ?? "", "npm"),
  ];
  const found = roots
    .filter((r): r is string => Boolean(r))
    .map((r) => path.join(r, "node_modules", "node-gyp", "bin", "node-gyp.js"))
    .find((f) => fs.existsSync(f));
  if (!found)
    throw new Error(
      `npm's node-gyp was not found (looked next to ${roots.filter(Boolean).join(" and ")}); ` +
        'reinstall npm or "npm install -g node-gyp".',
    );
  return found;
}

/**
 * The binding.gyp that links tfjs-node's two addon sources
 * against a pip TensorFlow, with an rpath to its folder.
 */
function bindingGyp(tf: PythonTensorFlow): string {
  const libraries = [
    `-L${tf.libDir}`,
    ...TF_LIBRARIES.map((l) => `-l:${l}`),
    `-Wl,-rpath,${tf.libDir}`,
  ];
  return JSON.stringify(
    {
      targets: [
        {
          target_name: "tfjs_binding",
          sources: ["binding/tfjs_backend.cc", "binding/tfjs_binding.cc"],
          include_dirs: [".", tf.includeDir],
          defines: ["NAPI_VERSION=8"],
          libraries,
        },
      ],
    },
    null,
    1,
  );
}

/**
 * TF_ and TFE_ functions that `binding` needs and none of
 * TensorFlow's libraries defines. Empty when `nm` is missing.
 */
export function missingSymbols(binding: string, libDir: string): string[] {
  // TensorFlow's libraries export ~100 MB of symbol names: filter them before they reach Node.
  const names = (args: string) => {
    const r = run("sh", ["-c", `nm -D ${args} | grep -E ' TFE?_'`]);
    return r.status === 0
      ? r.stdout
          .split("\n")
          .map((l) => (l.trim().split(/\s+/).pop() ?? "").replace(/@.*$/, ""))
          .filter(Boolean)
      : undefined;
  };
  const quote = (f: string) => `'${f.replace(/'/g, "'\\''")}'`;
  const needed = names(`--undefined-only ${quote(binding)}`);
  if (!needed) return [];
  const defined = new Set(
    TF_LIBRARIES.flatMap((lib) => names(`--defined-only ${quote(path.join(libDir, lib))}`) ?? []),
  );
  return needed.filter((s) => !defined.has(s));
}

/**
 * Whether the recorded build was made from these
 * sources against this TensorFlow and can still load.
 */
export function upToDate(tf: PythonTensorFlow, tfjsVersion: string): NativeBuild | undefined {
  let m: NativeBuild | undefined;
  try {
    m = readManifest();
  } catch {
    return undefined;
  }
  if (
    !m ||
    staleReason(m) ||
    m.tfjsNode !== tfjsVersion ||
    m.tensorflow.libDir !== tf.libDir ||
    m.tensorflow.version !== tf.version
  )
    return undefined;
  return m;
}

/**
 * Compiles the binding; returns the manifest written to
 * native/build.json. Throws with the log path on failure.
 */
export function compileBinding(
  tf: PythonTensorFlow,
  tfjsVersion: string,
  packageDir: string,
): NativeBuild {
  for (const h of ["tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"]) {
    if (!fs.existsSync(path.join(tf.includeDir, h)))
      throw new Error(
        `TensorFlow ${tf.version} at ${tf.includeDir} has no ${h}: this TensorFlow ships ` +
          'without its C headers; use a pip "tensorflow" or "tensorflow-cpu" wheel.',
      );
  }
  for (const l of TF_LIBRARIES) {
    if (!fs.existsSync(path.join(tf.libDir, l)))
      throw new Error(
        `TensorFlow ${tf.version} has no ${l} in ${tf.libDir}; the binding needs ` +
          `TensorFlow's C library (pip "tensorflow" or "tensorflow-cpu" 2.x on Linux).`,
      );
  }
  const headers = nodeHeaders();
  const gyp = nodeGyp();
  fs.writeFileSync(path.join(packageDir, "binding.gyp"), bindingGyp(tf) + "\n");
  console.log(
    `native: compiling tfjs-node ${tfjsVersion}'s binding against TensorFlow ${tf.version} ` +
      `(about a minute; log: ${path.relative(ROOT, BUILD_LOG)})`,
  );
  const r = run(
    process.execPath,
    [gyp, "rebuild", `--nodedir=${headers}`, "-j", String(Math.max(1, os.cpus().length))],
    { cwd: packageDir },
  );
  fs.writeFileSync(BUILD_LOG, `${r.stdout ?? ""}\n${r.stderr ?? ""}`);
  const built = path.join(packageDir, "build", "Release", "tfjs_binding.node");
  if (r.status !== 0 || !fs.existsSync(built)) {
    const errors = `${r.stdout}\n${r.stderr}`
      .split("\n")
      .filter((l) => /error/i.test(l) && !/^gyp info/.test(l))
      .slice(0, 8)
      .join("\n  ");
    throw new Error(
      `the compile failed; the full log is ${BUILD_LOG}` +
        (errors ? `. First errors:\n  ${errors}` : ""),
    );
  }
  const missing = missingSymbols(built, tf.libDir);
  if (missing.length)
    throw new Error(
      `TensorFlow ${tf.version}'s C API (in ${tf.libDir}) lacks ${missing.join(", ")}, ` +
        `which tfjs-node ${tfjsVersion}'s binding calls; ` +
        "use a TensorFlow 2.x wheel that exports it.",
    );
  const binding = path.join(NATIVE_DIR, "tfjs_binding.node");
  fs.copyFileSync(built, binding);
  const manifest: NativeBuild = {
    tfjsNode: tfjsVersion,
    packageDir,
    binding,
    tensorflow: {
      version: tf.version,
      python: tf.python,
      libDir: tf.libDir,
      cuda: tf.cuda,
      gpus: tf.gpus,
      libraries: TF_LIBRARIES.map((l) => stampLibrary(path.join(tf.libDir, l))),
    },
    node: process.version,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/**
 * Loads the recorded build in a fresh Node process and runs one matrix product on it, so a build
 * that would crash a kernel is caught here. Returns TensorFlow's version and device.
 */
export function verifyBuild(): { version: string; device: string } {
  const nativeModule = JSON.stringify(path.join(__dirname, "load.js")); // dist/native/load.js
  const script = `
    const tf = require("@tensorflow/tfjs");
    const { loadNativeBuild } = require(${nativeModule});
    const n = loadNativeBuild();
    if (!n.ok) { console.log(JSON.stringify({ error: n.why })); process.exit(0); }
    tf.setBackend("tensorflow").then(() => {
      const v = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
      const result = v[0] === 17 && v[1] === 39
        ? { version: n.binding.TF_Version, device: n.device }
        : { error: "1x2 matMul gave " + Array.from(v) };
      console.log(JSON.stringify(result));
    });`;
  const r = run(process.execPath, ["-e", script], { cwd: ROOT });
  const out = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  const stderrTail = (r.stderr ?? "").trim().split("\n").slice(-3).join(" | ");
  const parsed: { error?: string; version?: string; device?: string } = out.startsWith("{")
    ? JSON.parse(out)
    : {
        error: `the test process ended with ${r.signal ?? `exit code ${r.status}`}: ${stderrTail}`,
      };
  if (parsed.error || !parsed.version || !parsed.device)
    throw new Error(`the binding was built but does not work: ${parsed.error}`);
  return { version: parsed.version, device: parsed.device };
}
