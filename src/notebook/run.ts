import * as path from "path";
import { ExecuteError, Kernel, KernelKind } from "./kernel";
import { Cell, Notebook, Output, cellSource, readNotebook, toLines } from "./nbformat";
import { Message } from "./wire";

/** Options of {@link runNotebook}. */
export interface RunNotebookOptions {
  /**
   * The kernel to run it in (default: the notebook's own, tslab or jslab by its kernelspec);
   * `deno` runs the same cells in Deno's kernel.
   */
  kernel?: KernelKind;
  /** Environment of the kernel (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Longest time one cell may run, in ms (0 = no limit; default 0). */
  cellTimeoutMs?: number;
  /** Called before each code cell runs (1-based cell number among all cells). */
  onCell?: (cellNumber: number, source: string) => void;
  /**
   * Stops the run when aborted: the kernel is ended at once, the running cell keeps what it
   * printed and fails with the reason's message (an Error's message, e.g. "the run was stopped
   * by SIGTERM"). Aborted while the kernel starts, {@link runNotebook} rejects with it.
   */
  signal?: AbortSignal;
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
  /** True when `options.signal` aborted before the run had ended (the failure says where). */
  stopped: boolean;
}

/** tslab's process-level handlers print these for errors that escape a cell. */
const ESCAPED = /^(UncaughtException|UnhandledPromiseRejection):/m;

/**
 * Executes a notebook top to bottom in a fresh kernel (tslab's, or `options.kernel`) started in the
 * notebook's folder,
 * like "Restart kernel and run all" in JupyterLab. Stops at the first failing cell: a cell whose
 * execute_reply is an error, one that times out or kills the kernel (what it printed until then
 * is kept), or any cell that lets an exception or rejection escape, also one reported after the
 * cell finished: after the last cell the runner waits (up to 10 s) until no timer is pending, so
 * that an error a timer throws later is still caught; output printed meanwhile goes to the last
 * cell, as JupyterLab shows it. The source file is not modified; the kernel is always ended.
 * @throws when the file is not a notebook (naming it), or the kernel cannot start.
 */
export async function runNotebook(
  file: string,
  options: RunNotebookOptions = {},
): Promise<NotebookRunResult> {
  const started = Date.now();
  const notebook = readNotebook(file);
  const kind: KernelKind =
    options.kernel ?? (notebook.metadata.kernelspec?.name === "jslab" ? "jslab" : "tslab");
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
    stopped: false,
  };
  const kernel = await Kernel.start({
    kind,
    cwd: path.dirname(path.resolve(file)),
    env: options.env,
    signal: options.signal,
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
  let lastCell = 0;
  let stuck = false;
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
        if (e instanceof ExecuteError) {
          // what the cell printed before it hung or the kernel died; later output is late
          cellOfRequest.set(e.msgId, k + 1);
          collectOutputs(cell, e.messages, displays);
        }
        stuck = true;
        fail(k + 1, (e as Error).message);
        break;
      }
      cellOfRequest.set(run.msgId, k + 1);
      lastCell = k + 1;
      cell.execution_count = run.executionCount;
      const stderr = collectOutputs(cell, run.messages, displays);
      result.executedCells++;
      if (run.status !== "ok" || ESCAPED.test(stderr))
        fail(k + 1, stderr.trim() || `execute_reply status "${run.status}" with no error text`);
      else result.stderr += stderr;
      if (run.outputDropped)
        result.stderr +=
          `[runner] cell ${k + 1} printed faster than ZeroMQ delivers (over 1,000 queued ` +
          `messages): some of its output may be missing\n`;
      // Rejections and timer exceptions surface just after the reply; give them a moment and
      // blame the right cell.
      await settle(SETTLE_MS);
      result.stderr += checkLate(kernel, notebook, cellOfRequest, displays, fail);
    }
    if (!result.failure && lastCell > 0) {
      result.stderr += await waitForTimers(
        kernel,
        notebook,
        lastCell,
        cellOfRequest,
        displays,
        fail,
        options.signal,
      );
      await settle(SETTLE_MS);
    }
    result.stderr += checkLate(kernel, notebook, cellOfRequest, displays, fail);
  } finally {
    result.stopped = Boolean(options.signal?.aborted);
    await kernel.shutdown({ force: stuck });
  }
  for (const cell of codeCells)
    for (const o of cell.outputs!)
      if (o.output_type === "stream") (o as { text: unknown }).text = toLines(o.text);
  if (result.failure)
    markFailure(notebook.cells[result.failure.cellNumber - 1], result.failure.error);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/**
 * Appends iopub messages of the cell's execution to its outputs (stream text as one string,
 * split into lines when the run ends); returns the stderr text.
 */
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
  return stderr;
}

/** Pause after each cell, for errors that escape asynchronously. */
const SETTLE_MS = 30;

function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Longest wait after the last cell for the timers it left pending. */
const TIMERS_WAIT_MS = 10_000;
/** The line the timer wait prints when timers are still pending at its end. */
const PENDING_MARK = "[ch10-runner] pending timers: ";

/**
 * A hidden request (not recorded in the notebook) that returns once no timer, immediate or file
 * request keeps the kernel busy, or after {@link TIMERS_WAIT_MS}; plain JavaScript, so that both
 * kernels take it, inside a promise, so that it declares nothing in the notebook's scope (tslab
 * takes a top-level `await` of a promise, not of an async function's call).
 */
const WAIT_FOR_TIMERS = `await new Promise((done) => {
  const WAITED_FOR = /^(Timeout|Immediate|FSReq)/;
  const until = Date.now() + ${TIMERS_WAIT_MS};
  // own: 1 inside the poll's own timer, which counts as active while its callback runs
  const poll = (own = 0) => {
    const busy = process.getActiveResourcesInfo().filter((r) => WAITED_FOR.test(r));
    const pending = busy.length - own;
    if (pending > 0 && Date.now() < until) return void setTimeout(() => poll(1), 50);
    if (pending > 0) process.stdout.write(${JSON.stringify(PENDING_MARK)} + pending + "\\n");
    done(undefined);
  };
  poll();
});`;

/**
 * Waits until the kernel has no pending timers (bounded), so that an error a timer throws after
 * the last cell fails the run; what was printed meanwhile is appended to the last cell, whose
 * fault it is taken to be (JupyterLab shows such output there too). Returns runner notes.
 */
async function waitForTimers(
  kernel: Kernel,
  notebook: Notebook,
  lastCell: number,
  cellOfRequest: Map<string, number>,
  displays: Map<string, Output & { output_type: "display_data" }>,
  fail: (cell: number, error: string) => void,
  signal: AbortSignal | undefined,
): Promise<string> {
  const cell = notebook.cells[lastCell - 1];
  let run;
  try {
    run = await kernel.execute(WAIT_FOR_TIMERS, TIMERS_WAIT_MS + 30_000);
  } catch (e) {
    if (!(e instanceof ExecuteError)) throw e;
    cellOfRequest.set(e.msgId, lastCell);
    const stderr = collectOutputs(cell, e.messages, displays);
    if (signal?.aborted) return ""; // stopped: the caller reports it
    fail(lastCell, `after the cell finished: ${`${stderr}\n${e.message}`.trim()}`);
    return "";
  }
  cellOfRequest.set(run.msgId, lastCell);
  const pending = run.messages.find(
    (m) => m.header.msg_type === "stream" && String(m.content.text).startsWith(PENDING_MARK),
  );
  const stderr = collectOutputs(
    cell,
    run.messages.filter((m) => m !== pending),
    displays,
  );
  if (ESCAPED.test(stderr)) {
    fail(lastCell, `after the cell finished: ${stderr.trim()}`);
    return "";
  }
  let notes = stderr;
  if (run.status !== "ok")
    notes +=
      `[runner] could not wait for the timers left after the last cell (status ` +
      `"${run.status}"): errors they raise later are not caught\n`;
  if (pending)
    notes +=
      `[runner] ${String(pending.content.text).slice(PENDING_MARK.length).trim()} timer(s) or ` +
      `request(s) still pending ${TIMERS_WAIT_MS / 1000} s after the last cell: errors they ` +
      `raise later are not caught\n`;
  return notes;
}

/**
 * Handles the iopub messages that arrived after their request's reply: appends each to the cell
 * the request belongs to, as JupyterLab shows it, and fails that cell on an escaped error.
 * Returns the stderr text that did not fail a cell.
 */
function checkLate(
  kernel: Kernel,
  notebook: Notebook,
  cellOfRequest: Map<string, number>,
  displays: Map<string, Output & { output_type: "display_data" }>,
  fail: (cell: number, error: string) => void,
): string {
  let notes = "";
  for (const m of kernel.late.splice(0)) {
    const cellNumber = cellOfRequest.get(m.parent_header.msg_id ?? "") ?? 0;
    const cell = notebook.cells[cellNumber - 1];
    const text = m.header.msg_type === "stream" ? String(m.content.text) : "";
    if (cell) collectOutputs(cell, [m], displays);
    if (ESCAPED.test(text)) fail(cellNumber, `after the cell finished: ${text.trim()}`);
    else if (m.content.name === "stderr") notes += text;
  }
  return notes;
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
