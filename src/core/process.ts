/**
 * Whether process `pid` is running: `process.kill(pid, 0)` succeeds, or fails with EPERM (a
 * process of another user). Used to tell a live lock holder or saver from a dead one's leftovers.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
