import * as path from "path";

/** The project's root folder (the one with package.json), from `dist/core/` or `src/core/`. */
export const ROOT = path.resolve(__dirname, "..", "..");
/**
 * The project's own Python environment (`npm run lab -- --install`,
 * `npm run native -- --install-tensorflow`).
 */
export const VENV = path.join(ROOT, ".venv");
/**
 * `p` as a reader of a notebook wants to see it: relative to the project's root when it lies
 * inside (`reference`, `results/notebook-runs`), else as it is.
 */
export function projectPath(p: string): string {
  const rel = path.relative(ROOT, path.resolve(p));
  return rel === "" ? "." : rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
}

/** The Python interpreter of {@link VENV}. */
export const VENV_PYTHON = path.join(
  VENV,
  process.platform === "win32" ? "Scripts/python.exe" : "bin/python",
);
