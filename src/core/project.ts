import * as path from "path";

/** The project's root folder (the one with package.json), from `dist/core/` or `src/core/`. */
export const ROOT = path.resolve(__dirname, "..", "..");
/**
 * The project's own Python environment (`npm run lab -- --install`,
 * `npm run native -- --install-tensorflow`).
 */
export const VENV = path.join(ROOT, ".venv");
/** The Python interpreter of {@link VENV}. */
export const VENV_PYTHON = path.join(
  VENV,
  process.platform === "win32" ? "Scripts/python.exe" : "bin/python",
);
