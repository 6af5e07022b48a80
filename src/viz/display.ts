import { randomBytes } from "crypto";
import { VegaLiteSpec } from "./spec";
import { chartBundle } from "./render";
import { serializeKernelSends } from "../notebook/zmq-serial";
import { currentCellWriter } from "../notebook/tslab";
import { denoJupyter } from "../notebook/deno-runtime";

/** One display message as Jupyter's display_data content carries it. */
export interface DisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

type WriteDisplayData = (content: DisplayContent, update: boolean) => void;

/**
 * The running cell's display_data publisher: in tslab, {@link currentCellWriter} (tslab's public
 * `display` API sends one MIME type per message, so to send one output carrying several types we
 * call that function directly); in Deno's kernel, `Deno.jupyter.broadcast` of a `display_data` or
 * `update_display_data` message, which Deno sends as a reply to the running cell. Undefined
 * outside a kernel (plain Node, tests, the CLI).
 */
function kernelWriter(): WriteDisplayData | undefined {
  const deno = denoJupyter();
  if (deno)
    return (content, update) => {
      const type = update ? "update_display_data" : "display_data";
      // typed as a promise; Deno 2.9 returns undefined
      void Promise.resolve(
        deno.broadcast(type, content as unknown as Record<string, unknown>),
      ).catch((e: Error) => console.error(`display: ${e.message}`));
    };
  return currentCellWriter<WriteDisplayData>();
}

/**
 * Whether code runs inside a kernel's cell (tslab's or Deno's: displays go to the notebook) or
 * with a redirected sink.
 */
export function inNotebook(): boolean {
  return Boolean(fallbackSink) || kernelWriter() !== undefined;
}

let fallbackSink: ((content: DisplayContent, update: boolean) => void) | undefined;

/**
 * Redirects displays made outside a kernel (for tests and tools). Pass undefined to restore
 * the default, which prints the `text/plain` part to stdout.
 */
export function setDisplaySink(
  sink: ((content: DisplayContent, update: boolean) => void) | undefined,
): void {
  fallbackSink = sink;
}

/**
 * Publishes one output holding several MIME types (`data` maps type to payload; binary
 * payloads must already be base64). With a `displayId` the output can later be replaced in
 * place by calling again with `update: true`.
 */
export function publish(
  data: Record<string, unknown>,
  options: { displayId?: string; update?: boolean } = {},
): void {
  const content: DisplayContent = {
    data,
    metadata: {},
    transient: options.displayId ? { display_id: options.displayId } : {},
  };
  const update = options.update ?? false;
  if (fallbackSink) return fallbackSink(content, update);
  const write = kernelWriter();
  if (write) {
    serializeKernelSends(); // once per kernel; initBackend() does it too (setUpKernel)
    return write(content, update);
  }
  if (typeof data["text/plain"] === "string") console.log(data["text/plain"]);
}

/**
 * Shows a chart in the notebook as **one** output carrying
 * `application/vnd.vegalite.v5+json` (interactive in JupyterLab), `image/svg+xml` and `image/png`
 * (rendered in Node, for viewers without Vega) and `text/plain` alt text.
 * Outside a kernel it prints the alt text.
 */
export async function show(spec: VegaLiteSpec): Promise<void> {
  publish({ ...(await chartBundle(spec)) });
}

/**
 * An output that can be replaced in place, e.g. a live training view.
 * Each `update` redraws the same output instead of appending a new one.
 */
export class LiveDisplay {
  private readonly id = randomBytes(8).toString("hex");
  private shown = false;

  /** Replaces the output with plain text. */
  text(text: string): void {
    this.send({ "text/plain": text });
  }

  /** Replaces the output with a chart (and `caption` as its text/plain alternative, if given). */
  async chart(spec: VegaLiteSpec, caption?: string): Promise<void> {
    const bundle = await chartBundle(spec);
    this.send({ ...bundle, ...(caption ? { "text/plain": caption } : {}) });
  }

  private send(data: Record<string, unknown>): void {
    publish(data, { displayId: this.id, update: this.shown });
    this.shown = true;
  }
}
