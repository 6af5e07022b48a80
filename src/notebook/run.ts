import * as path from "path";
import { Kernel, KernelKind } from "./kernel";
import { Cell, Notebook, Output, cellSource, readNotebook, toLines } from "./nbformat";
import { Message } from "./wire";

/** Options of {@link runNotebook}. */
export interface RunNotebookOptions {
  /** Environment of the kernel (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Longest time one cell may run, in ms (0 = no limit; default 0). */
  cellTimeoutMs?: number;
  /** Called before each code cell runs (1-based cell number among all cells). */
  onCell?: (cellNumber: number, source: string) => void;
}

/** Where and why a notebook failed. */
export interface NotebookFailure {
  /** 1-based number of the cell among all cells of the notebook (as JupyterLab counts them). */
  cellNumber: number;
  source: string;
  /** The error text: what tslab wrote on stderr, or the runner's own message. */
  error: string;
}

/** The outcome of one notebook. */
export interface NotebookRunResult {
  file: string;
  /** The notebook with outputs and execution counts filled in. */
  notebook: Notebook;
  codeCells: number;
  executedCells: number;
  seconds: number;
  failure?: NotebookFailure;
  /** Text written to stderr by cells that did not fail (warnings a reader would see). */
  stderr: string;
}

/** tslab's process-level handlers print these for errors that escape a cell. */
const ESCAPED = /^(UncaughtException|UnhandledPromiseRejection):/m;

/**
 * Executes a notebook top to bottom in a fresh tslab kernel started in the notebook's folder,
 * like "Restart kernel and run all" in JupyterLab. Stops at the first failing cell: a cell whose
 * execute_reply is an error, or any cell that lets an exception or rejection escape (also one
 * reported after the cell finished). The source file is not modified.
 */
export async function runNotebook(
  file: string,
  options: RunNotebookOptions = {},
): Promise<NotebookRunResult> {
  const started = Date.now();
  const notebook = readNotebook(file);
  const kind: KernelKind = notebook.metadata.kernelspec?.name === "jslab" ? "jslab" : "tslab";
  const codeCells = notebook.cells.filter((c) => c.cell_type === "code");
  for (const cell of codeCells) {
    cell.outputs = [];
    cell.execution_count = null;
  }
  const result: NotebookRunResult = {
    file,
    notebook,
    codeCells: codeCells.length,
    executedCells: 0,
    seconds: 0,
    stderr: "",
  };
  const kernel = await Kernel.start({
    kind,
    cwd: path.dirname(path.resolve(file)),
    env: options.env,
  });
  const displays = new Map<string, Output & { output_type: "display_data" }>();
  const cellOfRequest = new Map<string, number>();
  const fail = (cellNumber: number, error: string) => {
    const cell = notebook.cells[cellNumber - 1];
    result.failure ??= {
      cellNumber,
      source: cell ? cellSource(cell) : "",
      error: cleanErrorText(error),
    };
  };
  try {
    for (let k = 0; k < notebook.cells.length && !result.failure; k++) {
      const cell = notebook.cells[k];
      if (cell.cell_type !== "code") continue;
      const source = cellSource(cell);
      options.onCell?.(k + 1, source);
      let run;
      try {
        run = await kernel.execute(source, options.cellTimeoutMs ?? 0);
      } catch (e) {
        fail(k + 1, (e as Error).message);
        break;
      }
      cellOfRequest.set(run.msgId, k + 1);
      cell.execution_count = run.executionCount;
      const stderr = collectOutputs(cell, run.messages, displays);
      result.executedCells++;
      if (run.status !== "ok" || ESCAPED.test(stderr))
        fail(k + 1, stderr.trim() || `execute_reply status "${run.status}" with no error text`);
      else result.stderr += stderr;
      if (run.outputDropped)
        result.stderr += `[runner] cell ${k + 1} printed faster than ZeroMQ delivers (over 1,000 queued messages): some of its output may be missing\n`;
      // Rejections and timer exceptions surface just after the reply; give them a moment and blame the right cell.
      await settle(SETTLE_MS);
      checkLate(kernel, cellOfRequest, fail);
    }
    if (!result.failure) {
      await settle(FINAL_SETTLE_MS);
      checkLate(kernel, cellOfRequest, fail);
    }
  } finally {
    await kernel.shutdown();
  }
  if (result.failure)
    markFailure(notebook.cells[result.failure.cellNumber - 1], result.failure.error);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/** Appends the iopub messages of one execution to the cell as nbformat outputs; returns the stderr text. */
function collectOutputs(
  cell: Cell,
  messages: Message[],
  displays: Map<string, Output & { output_type: "display_data" }>,
): string {
  const outputs = cell.outputs!;
  let stderr = "";
  for (const m of messages) {
    const c = m.content as Record<string, any>;
    switch (m.header.msg_type) {
      case "stream": {
        if (c.name === "stderr") stderr += c.text;
        const last = outputs[outputs.length - 1];
        if (last && last.output_type === "stream" && last.name === c.name) last.text += c.text;
        else outputs.push({ output_type: "stream", name: c.name, text: c.text });
        break;
      }
      case "display_data": {
        const out = {
          output_type: "display_data" as const,
          data: c.data,
          metadata: c.metadata ?? {},
        };
        outputs.push(out);
        const id = c.transient?.display_id;
        if (id) displays.set(id, out);
        break;
      }
      case "update_display_data": {
        const out = displays.get(c.transient?.display_id);
        if (out) {
          out.data = c.data;
          out.metadata = c.metadata ?? {};
        }
        break;
      }
      case "execute_result":
        outputs.push({
          output_type: "execute_result",
          data: c.data,
          metadata: c.metadata ?? {},
          execution_count: c.execution_count ?? null,
        });
        break;
      case "error":
        stderr += `${c.ename}: ${c.evalue}\n${(c.traceback ?? []).join("\n")}\n`;
        outputs.push({
          output_type: "error",
          ename: c.ename,
          evalue: c.evalue,
          traceback: c.traceback ?? [],
        });
        break;
      case "clear_output":
        outputs.length = 0;
        break;
    }
  }
  for (const o of outputs)
    if (o.output_type === "stream") (o as { text: unknown }).text = toLines(o.text);
  return stderr;
}

/** Pause after each cell and after the last one, for errors that escape asynchronously. */
const SETTLE_MS = 30;
const FINAL_SETTLE_MS = 500;

function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Fails the cell whose request an escaped error reported after its reply belongs to. */
function checkLate(
  kernel: Kernel,
  cellOfRequest: Map<string, number>,
  fail: (cell: number, error: string) => void,
): void {
  for (const m of kernel.late.splice(0)) {
    const text = m.header.msg_type === "stream" ? String(m.content.text) : "";
    if (ESCAPED.test(text))
      fail(
        cellOfRequest.get(m.parent_header.msg_id ?? "") ?? 0,
        `after the cell finished: ${text.trim()}`,
      );
  }
}

/** Drops the stack frames that belong to tslab and Node's vm rather than to the notebook. */
function cleanErrorText(text: string): string {
  return text
    .split("\n")
    .filter((l) => !/^\s+at .*(node:vm|node:internal|tslab[\\/]dist|sigintHandlersWrap)/.test(l))
    .join("\n")
    .trim();
}

/** Records the failure in the executed copy as an error output, as JupyterLab would show it. */
function markFailure(cell: Cell | undefined, error: string): void {
  if (!cell || cell.cell_type !== "code") return;
  const lines = error.split("\n");
  (cell.outputs ??= []).push({
    output_type: "error",
    ename: "CellError",
    evalue: lines[0],
    traceback: lines,
  });
}
