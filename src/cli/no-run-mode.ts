import { MODE_ENV, runMode } from "../core/mode";

/**
 * For a command that has no run modes (`bench`, `native`, `gpu-check`, `screenshots`,
 * `exercise-spread`): when `CH10_MODE` is set, says that it does not apply and what sets the
 * command's size instead, and exits 2 before any work, so that `CH10_MODE=smoke npm run bench` does not run the full bench
 * silently; a value that is no run mode at all gets runMode's own error. Unset or empty: nothing.
 */
export function refuseRunMode(command: string, instead: string, env = process.env): void {
  const raw = (env[MODE_ENV] ?? "").trim();
  if (raw === "") return;
  let message: string;
  try {
    runMode(env);
    message =
      `${MODE_ENV}=${raw} does not apply to npm run ${command}: ${instead}. ` +
      `Unset ${MODE_ENV} to run it`;
  } catch (e) {
    message = (e as Error).message;
  }
  console.error(`${command}: ${message}`);
  process.exit(2);
}
