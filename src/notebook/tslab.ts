/**
 * What the library needs to know about the tslab kernel it may be running in, read from tslab's
 * own module (`tslab/dist/jupyter`) rather than from anything a cell passes in.
 */

/**
 * tslab keeps the function that publishes display_data for the running cell in
 * `tslab/dist/jupyter.lastWriteDisplayData` and replaces it for every cell it runs, so it both
 * writes to the current cell and identifies it. Undefined outside a tslab kernel.
 */
export function currentCellWriter<T = unknown>(): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (
      (require("tslab/dist/jupyter") as { lastWriteDisplayData?: T }).lastWriteDisplayData ??
      undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * Whether this process is a tslab kernel: tslab's jupyter module is loaded (not merely installed).
 */
export function inTslabKernel(): boolean {
  return Object.keys(require.cache).some((k) => /tslab[\\/]dist[\\/]jupyter/.test(k));
}
