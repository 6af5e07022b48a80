/**
 * What the library needs of Deno's Jupyter kernel when it runs there (`deno jupyter`): its
 * display API. Deno defines `Deno.jupyter` in every Deno process but throws on reading it outside
 * the kernel, and Node.js has no `Deno` at all.
 */

/** The part of `Deno.jupyter` the library uses. */
export interface DenoJupyter {
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void> | void;
}

/** `Deno.jupyter` inside Deno's Jupyter kernel; undefined in Node.js and in `deno run`. */
export function denoJupyter(): DenoJupyter | undefined {
  const deno = (globalThis as { Deno?: { jupyter?: DenoJupyter } }).Deno;
  if (!deno) return undefined;
  try {
    return deno.jupyter;
  } catch {
    return undefined;
  }
}

/** Whether this process is Deno (any subcommand). */
export function inDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}
