import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";

/**
 * The Deno that runs the notebooks' second kernel (`deno jupyter`, built into Deno 2), taken from
 * the npm registry by name and version into the project's `.deno/` on first use, so that `npm ci`
 * does not download its ~92 MB binary for readers who keep to tslab.
 */

/** The Deno release the pack is verified with. */
export const DENO_VERSION = "2.9.6";
/** Where the project's Deno lives: `node_modules/` of an npm prefix, and Deno's own cache. */
export const DENO_HOME = path.join(ROOT, ".deno");

/** npm's package holding the Deno binary for this platform (`@deno/linux-x64-glibc`, ...). */
export function denoPlatformPackage(
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  const os = platform === "win32" ? "win32" : platform === "darwin" ? "darwin" : "linux";
  return `@deno/${os}-${arch}${os === "linux" ? "-glibc" : ""}`;
}

/** Path of the project's Deno binary (it may not be fetched yet). */
export function denoBinary(): string {
  const exe = process.platform === "win32" ? "deno.exe" : "deno";
  return path.join(DENO_HOME, "node_modules", ...denoPlatformPackage().split("/"), exe);
}

/** The version the project's Deno binary reports, or undefined when it is missing or broken. */
export function installedDenoVersion(binary = denoBinary()): string | undefined {
  if (!fs.existsSync(binary)) return undefined;
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return /^deno (\S+)/.exec(r.stdout ?? "")?.[1];
}

/**
 * The project's Deno binary, fetched from the npm registry (`npm install deno@DENO_VERSION` into
 * `.deno/`, no install scripts run) when it is missing or another version; `log` says when it
 * fetches. Nothing outside `.deno/` is written.
 * @throws when npm cannot fetch it (offline, no binary for this platform), saying what to do.
 */
export function ensureDeno(log: (line: string) => void = console.log): string {
  const binary = denoBinary();
  if (installedDenoVersion(binary) === DENO_VERSION) return binary;
  log(
    `deno: fetching Deno ${DENO_VERSION} from the npm registry into ` +
      `${path.relative(ROOT, DENO_HOME)}/ (first use, about 92 MB; npm ci does not)`,
  );
  fs.mkdirSync(DENO_HOME, { recursive: true });
  const manifest = path.join(DENO_HOME, "package.json");
  if (!fs.existsSync(manifest))
    fs.writeFileSync(manifest, JSON.stringify({ private: true, dependencies: {} }, null, 1) + "\n");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(
    npm,
    [
      "install",
      "--prefix",
      DENO_HOME,
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--no-save",
      `deno@${DENO_VERSION}`,
      `${denoPlatformPackage()}@${DENO_VERSION}`,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const got = installedDenoVersion(binary);
  if (r.status !== 0 || got !== DENO_VERSION) {
    const why = `${r.stderr ?? ""}${r.error?.message ?? ""}`.trim().split("\n").slice(-3);
    throw new Error(
      `could not fetch Deno ${DENO_VERSION} (${denoPlatformPackage()}) with npm into ` +
        `${DENO_HOME}${got ? ` (found ${got})` : ""}: ${why.join(" / ") || `exit ${r.status}`}; ` +
        `the tslab kernel does not need it`,
    );
  }
  return binary;
}

/**
 * The environment the Deno kernel runs with, in its kernelspec and in the notebook runner alike:
 * plain text without ANSI colours in results, no update check or permission prompt, and Deno's
 * cache kept in `.deno/cache` rather than the user's home.
 */
export function denoKernelEnv(): Record<string, string> {
  return {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    DENO_NO_PROMPT: "1",
    DENO_DIR: path.join(DENO_HOME, "cache"),
  };
}

/** The arguments after the binary that start Deno's Jupyter kernel on a connection file. */
export function denoKernelArgs(connectionFile: string): string[] {
  return ["jupyter", "--kernel", "--conn", connectionFile];
}
