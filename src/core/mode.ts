/** How much work the notebooks and experiments do. */
export type RunModeName = "smoke" | "default" | "full";

/** The environment variable that selects the run mode. */
export const MODE_ENV = "CH10_MODE";

const DESCRIPTIONS: Record<RunModeName, string> = {
  smoke: "tiny data and 1-2 epochs, for tests: numbers are NOT meaningful",
  default: "reduced data and epochs, each notebook finishes in about 10 minutes on a 2-core CPU",
  full: "the book's full settings (hours on a CPU)",
};

/** The active run mode and a helper to choose a setting per mode. */
export interface RunMode {
  readonly name: RunModeName;
  /** Returns the value given for the active mode. */
  pick<T>(values: Record<RunModeName, T>): T;
  /** One line for the notebook: the mode, what it means and how to change it. */
  describe(): string;
}

/**
 * Reads the run mode from `CH10_MODE` (`smoke`, `default` or `full`; unset means `default`).
 * Every notebook calls this once and prints `describe()`, so a reader always knows whether the
 * numbers below come from the book's settings.
 * @throws when the variable holds anything else.
 */
export function runMode(env: NodeJS.ProcessEnv = process.env): RunMode {
  const raw = (env[MODE_ENV] ?? "").trim().toLowerCase();
  const name = (raw === "" ? "default" : raw) as RunModeName;
  if (!(name in DESCRIPTIONS)) {
    throw new Error(
      `${MODE_ENV}="${env[MODE_ENV]}" is not a run mode: expected smoke, default or full`,
    );
  }
  return {
    name,
    pick: (values) => values[name],
    describe: () =>
      `Run mode: ${name} (${DESCRIPTIONS[name]}). Set ${MODE_ENV}=smoke|default|full to change it.`,
  };
}
