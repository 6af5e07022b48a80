#!/usr/bin/env node
import { spawnSync } from "child_process";
import * as path from "path";
import { ROOT } from "../core/project";
import { DENO_VERSION, denoKernelEnv, ensureDeno } from "../notebook/deno";
import { readManifest, staleReason } from "../native/manifest";
import { refuseRunMode } from "./no-run-mode";
import { missingVulkanDriver } from "../backend/webgpu";

/** A backend the suites run on under Deno, and what it needs. */
interface Target {
  name: string;
  /** CH10_TEST_BACKEND and any other variable that picks it. */
  env: Record<string, string>;
  /** The suites that run on it. */
  suites: string[];
  /** Why it cannot run here, or undefined when it can. */
  missing: () => string | undefined;
}

/** The backend-neutral suites (some read tensors with `dataSync()`, the library's code too). */
const SYNC_SUITES = [
  "gradients",
  "layers-train",
  "fused",
  "rnn",
  "conv-reference",
  "train",
  "augment",
];
/** Suites that read asynchronously only: the ones Deno's own WebGPU can run. */
const ASYNC_SUITES = ["gradients"];

const TARGETS: Target[] = [
  {
    name: "wasm",
    env: { CH10_TEST_BACKEND: "wasm" },
    suites: SYNC_SUITES,
    missing: () => undefined,
  },
  {
    name: "tensorflow",
    env: { CH10_TEST_BACKEND: "tensorflow" },
    suites: SYNC_SUITES,
    missing: () => {
      try {
        const build = readManifest();
        return build ? staleReason(build) : 'no native build ("npm run native" makes one)';
      } catch (e) {
        return (e as Error).message;
      }
    },
  },
  {
    name: "webgpu-dawn",
    env: { CH10_TEST_BACKEND: "webgpu", CH10_WEBGPU: "dawn" },
    suites: ["gradients", "layers-train", "fused", "rnn", "conv-reference"],
    missing: missingVulkanDriver,
  },
  {
    name: "webgpu-deno",
    env: { CH10_TEST_BACKEND: "webgpu", CH10_WEBGPU: "deno" },
    suites: ASYNC_SUITES,
    missing: missingVulkanDriver,
  },
];

const USAGE = `Usage: npm run test:deno -- [--backends ${TARGETS.map((t) => t.name).join(",")}]

Runs the backend-neutral test suites (the gradient, layer-training and float64-reference
checks) with mocha under Deno ${DENO_VERSION} (fetched into .deno/ on first use), once per backend:
${TARGETS.map((t) => `  ${t.name.padEnd(12)} ${t.suites.join(", ")}`).join("\n")}
Deno's own WebGPU (wgpu) reads tensors asynchronously only, so it runs the suites that do.
A backend this machine lacks (no native build, no Vulkan driver) is skipped and said so, unless
named with --backends, where it fails.`;

function parse(argv: string[]): { targets: Target[]; named: boolean } {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  if (argv.length === 0) return { targets: TARGETS, named: false };
  if (argv[0] !== "--backends" || argv.length !== 2)
    fail(`unexpected arguments: ${argv.join(" ")}`);
  const names = argv[1].split(",").filter(Boolean);
  const targets = names.map(
    (n) =>
      TARGETS.find((t) => t.name === n) ??
      fail(`--backends: unknown backend ${n} (expected ${TARGETS.map((t) => t.name).join(", ")})`),
  );
  return { targets, named: true };
}

function fail(message: string): never {
  console.error(`test:deno: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function main(): void {
  refuseRunMode("test:deno", "its suites have fixed sizes");
  const { targets, named } = parse(process.argv.slice(2));
  let deno: string;
  try {
    deno = ensureDeno((line) => console.log(`test:deno: ${line}`));
  } catch (e) {
    console.error(`test:deno: ${(e as Error).message}`);
    process.exit(1);
  }
  const mocha = path.join(ROOT, "node_modules", "mocha", "bin", "mocha.js");
  const summary: string[] = [];
  let failed = 0;
  for (const t of targets) {
    const why = t.missing();
    if (why) {
      summary.push(`${t.name.padEnd(12)} SKIPPED: ${why}`);
      if (named) failed++;
      continue;
    }
    const files = t.suites.map((s) => path.join("dist-test", `${s}.test.js`));
    console.log(`\n== Deno ${DENO_VERSION}, ${t.name}: ${t.suites.join(", ")}`);
    const r = spawnSync(
      deno,
      ["run", "-A", mocha, "--no-config", "--timeout", "300000", ...files],
      { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...denoKernelEnv(), ...t.env } },
    );
    const ok = r.status === 0;
    if (!ok) failed++;
    summary.push(`${t.name.padEnd(12)} ${ok ? "passed" : `FAILED (exit ${r.status ?? r.signal})`}`);
  }
  console.log(`\n== test:deno (Deno ${DENO_VERSION})\n${summary.join("\n")}`);
  process.exit(failed ? 1 : 0);
}

main();
