import { stopTrainingOnKernelInterrupt, stopTrainingOnRequest } from "./interrupt";
import { inTslabKernel } from "./tslab";
import { denoJupyter } from "./deno-runtime";
import { serializeKernelSends } from "./zmq-serial";

/**
 * Inside a kernel (tslab's or Deno's), installs what a notebook needs of its kernel: zeromq sends chained per
 * socket ({@link serializeKernelSends}: tslab 1.0.22 on zeromq 6 dies on bursts of output), every
 * `fit`/`fitDataset` stoppable at a batch boundary ({@link stopTrainingOnRequest}) and the
 * kernel's interrupt, JupyterLab's stop button, turned into that stop
 * ({@link stopTrainingOnKernelInterrupt}). `initBackend()`, which every notebook calls in its
 * first cell, calls this; it is idempotent. Outside a kernel it does nothing: importing the
 * library or calling `initBackend()` in a plain Node script leaves tfjs's `fit` and zeromq as
 * they are (call {@link stopTrainingOnRequest} yourself to make `requestTrainingStop` work there).
 * @returns whether this process is a kernel.
 */
export function setUpKernel(): boolean {
  if (!inTslabKernel() && !denoJupyter()) return false;
  serializeKernelSends(); // tslab's zeromq only
  stopTrainingOnRequest();
  stopTrainingOnKernelInterrupt();
  return true;
}
