import { ChildProcess, spawn } from "child_process";
import { randomBytes, randomUUID } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as zmq from "zeromq";
import { ConnectionInfo, Message, decode, encode, newMessage } from "./wire";
import { denoBinary, denoKernelArgs, denoKernelEnv, installedDenoVersion } from "./deno";

/** Which kernel to start: tslab's TypeScript or JavaScript kernel, or Deno's. */
export type KernelKind = "tslab" | "jslab" | "deno";

/** The kernels {@link Kernel.start} can start. */
export const KERNEL_KINDS: readonly KernelKind[] = ["tslab", "jslab", "deno"];

/** Options of {@link Kernel.start}. */
export interface KernelStartOptions {
  /**
   * `tslab` (TypeScript, default), `jslab` (JavaScript) or `deno` (Deno's built-in kernel, from
   * the project's `.deno/`: see `ensureDeno`).
   */
  kind?: KernelKind;
  /** Working directory of the kernel (the notebook's folder, as JupyterLab does). */
  cwd: string;
  /** Environment of the kernel process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the kernel to answer (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Ends the kernel's work when aborted: a start-up under way or a running {@link Kernel.execute}
   * rejects with the reason's message, later requests are refused, and {@link Kernel.shutdown}
   * ends the process at once instead of asking it to shut down.
   */
  signal?: AbortSignal;
}

/** What one execute request produced. */
export interface ExecuteResult {
  /** The execute_request's msg_id (late messages of this request carry it as parent). */
  msgId: string;
  /** `ok`, `error` or `abort`, from the execute_reply. */
  status: string;
  executionCount: number | null;
  /** Every iopub message of the request, in arrival order (streams, display data, ...). */
  messages: Message[];
  /**
   * True when the kernel replied but its "idle" status never arrived: ZeroMQ's publisher drops
   * messages past its high-water mark (1,000) when a cell floods output faster than it is read,
   * so some of the cell's output may be missing too.
   */
  outputDropped: boolean;
}

/**
 * Why {@link Kernel.execute} gave up on a cell (a timeout, the kernel's death, an abort), with the
 * iopub messages of the cell that had arrived by then: what it printed before it hung or crashed.
 */
export class ExecuteError extends Error {
  constructor(
    message: string,
    /** The execute_request's msg_id. */
    readonly msgId: string,
    /** The cell's iopub messages so far, in arrival order. */
    readonly messages: Message[],
  ) {
    super(message);
    this.name = "ExecuteError";
  }
}

/** How long to wait for the "idle" status after the execute_reply before taking it as dropped. */
const IDLE_GRACE_MS = 3000;
/** How long a kernel has to exit after a shutdown_request. */
const SHUTDOWN_GRACE_MS = 3000;
/** How long it then has after SIGTERM, and after SIGKILL. */
const TERM_GRACE_MS = 2000;

/**
 * Kernels run in a process group of their own (POSIX), so that ending one also ends whatever its
 * cells started, and a terminal's Ctrl+C reaches only the program that drives them.
 */
const OWN_GROUP = process.platform !== "win32";

/**
 * Synchronous clean-up of each kernel this process started and has not shut down: run when the
 * process exits, however it exits (a normal end, process.exit, an uncaught error), so that no
 * kernel outlives it and no connection file (it holds the HMAC key) stays behind.
 */
const running = new Map<Kernel, () => void>();
let exitHookInstalled = false;

function registerRunning(kernel: Kernel, cleanupNow: () => void): void {
  running.set(kernel, cleanupNow);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const cleanup of running.values()) cleanup();
      running.clear();
    });
  }
}

/** How often a kernel looks whether the process that started it is still there. */
const ORPHAN_POLL_MS = 1000;

/**
 * What each kernel loads first (`node -r`): a worker thread (it runs even while a cell keeps the
 * main thread spinning) that, once the process that started the kernel is gone without ending it
 * (killed with SIGKILL, say), removes the kernel's connection folder and ends its process group,
 * the kernel included, so that even then no kernel is left running. Worker threads and forked
 * processes of the kernel inherit the `-r`; in them (not the kernel's main thread, or without
 * the kernel's connection file among their arguments) it does nothing.
 */
function orphanGuard(parent: number, dir: string, connFile: string): string {
  const end = OWN_GROUP ? `process.kill(-process.pid, "SIGKILL")` : `process.kill(process.pid)`;
  const watch = `
    setInterval(() => {
      if (process.ppid === ${parent}) return;
      require("fs").rmSync(${JSON.stringify(dir)}, { recursive: true, force: true });
      ${end};
    }, ${ORPHAN_POLL_MS});`;
  return `"use strict";
const { Worker, isMainThread } = require("worker_threads");
if (isMainThread && process.argv.includes(${JSON.stringify(connFile)}))
  new Worker(${JSON.stringify(watch)}, { eval: true, execArgv: [] }).unref();
`;
}

/**
 * The same guard for a kernel that cannot load a Node.js module first (Deno's): a small Node.js
 * process of its own that polls until the process that started the kernel is gone (then it
 * removes the connection folder and ends the kernel's process group) or the kernel has exited.
 */
function orphanWatcher(parent: number, kernel: number, dir: string): ChildProcess {
  const end = OWN_GROUP ? `-${kernel}` : `${kernel}`;
  const script = `
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    setInterval(() => {
      if (!alive(${kernel})) process.exit(0);
      if (alive(${parent})) return;
      require("fs").rmSync(${JSON.stringify(dir)}, { recursive: true, force: true });
      try { process.kill(${end}, "SIGKILL"); } catch {}
      process.exit(0);
    }, ${ORPHAN_POLL_MS});`;
  const watcher = spawn(process.execPath, ["-e", script], { stdio: "ignore", detached: true });
  watcher.unref();
  return watcher;
}

/**
 * The command that starts a kernel of `kind` on `connFile` (with `guard` loaded first in tslab's).
 * @throws for Deno's when the project's Deno is not fetched yet, saying how.
 */
function kernelCommand(
  kind: KernelKind,
  connFile: string,
  guard: string,
): { file: string; args: string[]; env: Record<string, string> } {
  if (kind === "deno") {
    const file = denoBinary();
    if (!installedDenoVersion(file))
      throw new Error(
        `the Deno kernel needs the project's Deno (${file} is missing): run "npm run kernel", ` +
          `which fetches it from the npm registry`,
      );
    return { file, args: denoKernelArgs(connFile), env: denoKernelEnv() };
  }
  const tslab = require.resolve("tslab/bin/tslab");
  const args = ["-r", guard, tslab, "kernel", "--config-path", connFile];
  if (kind === "jslab") args.push("--js");
  return { file: process.execPath, args, env: {} };
}

/** The message of an abort reason (an Error or anything else). */
function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason);
}

type Listener = (msg: Message) => void;

/**
 * A tslab kernel in a child process, driven over the Jupyter messaging protocol (ZeroMQ),
 * exactly as JupyterLab drives it. It never outlives the process that started it: it runs in a
 * process group of its own, which {@link Kernel.shutdown} ends, as does this process's exit
 * (however it exits), and, should this process be killed outright, the kernel itself.
 */
export class Kernel {
  private readonly session = randomUUID();
  private readonly iopubListeners = new Map<string, Listener>();
  private readonly shellListeners = new Map<string, Listener>();
  private exited: string | undefined;
  private readonly exitedNow: Promise<void>;
  private closed = false;
  private readonly log: string[] = [];
  /**
   * iopub messages that arrived for a request whose execution had already finished (late async
   * errors); `parent_header.msg_id` says which.
   */
  readonly late: Message[] = [];

  private constructor(
    private readonly proc: ChildProcess,
    private readonly conn: ConnectionInfo,
    private readonly shell: zmq.Dealer,
    private readonly control: zmq.Dealer,
    private readonly iopub: zmq.Subscriber,
    private readonly dir: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.exitedNow = new Promise((resolve) => proc.once("exit", () => resolve()));
    registerRunning(this, () => {
      this.signalGroup("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  /**
   * Starts a kernel and waits until it answers kernel_info on shell and publishes on iopub.
   * @throws when it exits or does not answer in time, or `signal` aborts first (the process is
   * then ended and its connection file removed).
   */
  static async start(options: KernelStartOptions): Promise<Kernel> {
    if (options.signal?.aborted) throw new Error(abortMessage(options.signal));
    const ports = await freePorts(5);
    const conn: ConnectionInfo = {
      transport: "tcp",
      ip: "127.0.0.1",
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      key: randomBytes(16).toString("hex"),
      signature_scheme: "hmac-sha256",
      kernel_name: options.kind ?? "tslab",
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-kernel-"));
    const connFile = path.join(dir, "connection.json");
    fs.writeFileSync(connFile, JSON.stringify(conn), { mode: 0o600 });
    const guard = path.join(dir, "orphan-guard.js");
    if (options.kind !== "deno") fs.writeFileSync(guard, orphanGuard(process.pid, dir, connFile));
    let proc: ChildProcess;
    try {
      const command = kernelCommand(options.kind ?? "tslab", connFile, guard);
      proc = spawn(command.file, command.args, {
        cwd: options.cwd,
        env: { ...(options.env ?? process.env), ...command.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: OWN_GROUP,
      });
      if (options.kind === "deno" && proc.pid) orphanWatcher(process.pid, proc.pid, dir);
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const url = (port: number) => `tcp://${conn.ip}:${port}`;
    const shell = new zmq.Dealer({ linger: 0 });
    const control = new zmq.Dealer({ linger: 0 });
    const iopub = new zmq.Subscriber({ linger: 0 });
    shell.connect(url(conn.shell_port));
    control.connect(url(conn.control_port));
    iopub.connect(url(conn.iopub_port));
    iopub.subscribe();
    const kernel = new Kernel(proc, conn, shell, control, iopub, dir, options.signal);
    kernel.pump();
    try {
      await kernel.handshake(options.startTimeoutMs ?? 60_000);
    } catch (e) {
      await kernel.shutdown({ force: true });
      throw e;
    }
    return kernel;
  }

  /** What the kernel process printed outside any cell (its own logs). */
  processLog(): string {
    return this.log.join("");
  }

  /** The kernel's process id. */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /**
   * Interrupts the running cell the way JupyterLab's stop button does for a kernel whose spec has
   * no `interrupt_mode` (tslab's): SIGINT to the kernel process.
   */
  interrupt(): void {
    this.proc.kill("SIGINT");
  }

  /**
   * Runs code like a notebook cell; `onMessage` sees each of its iopub messages as it arrives
   * (e.g. to act while the cell still runs).
   * @throws {@link ExecuteError}, with the messages that had arrived, when the kernel dies,
   * `timeoutMs` passes or the start options' `signal` aborts first.
   */
  async execute(
    code: string,
    timeoutMs = 0,
    onMessage?: (msg: Message) => void,
  ): Promise<ExecuteResult> {
    const msg = newMessage("execute_request", this.session, {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const id = msg.header.msg_id;
    const messages: Message[] = [];
    if (this.signal?.aborted) throw new ExecuteError(abortMessage(this.signal), id, messages);
    if (this.exited)
      throw new ExecuteError(`the kernel is not running (${this.exited})`, id, messages);
    let reply: Message | undefined;
    let idle = false;
    let outputDropped = false;
    let onAbort: (() => void) | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (reply && idle) resolve();
      };
      const graceAfterReply = () =>
        setTimeout(() => {
          if (!idle) {
            outputDropped = true;
            resolve();
          }
        }, IDLE_GRACE_MS).unref();
      this.iopubListeners.set(id, (m) => {
        if (m.header.msg_type === "status") {
          if (m.content.execution_state === "idle") idle = true;
        } else {
          messages.push(m);
          onMessage?.(m);
        }
        check();
      });
      this.shellListeners.set(id, (m) => {
        reply = m;
        check();
        if (!idle) graceAfterReply();
      });
      const giveUp = (why: string) => reject(new ExecuteError(why, id, messages));
      this.onExit = (why) =>
        giveUp(`kernel died while running the cell: ${why}\n${this.processLog()}`.trim());
      onAbort = () => giveUp(abortMessage(this.signal!));
      this.signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs > 0) {
        setTimeout(
          () => giveUp(`cell did not finish within ${Math.round(timeoutMs / 1000)} s`),
          timeoutMs,
        ).unref();
      }
    });
    await this.shell.send(encode(msg, this.conn.key));
    try {
      await done;
    } finally {
      if (onAbort) this.signal?.removeEventListener("abort", onAbort);
      // Keep listening: output printed after the cell finished (e.g. a late unhandled
      // rejection) is recorded in `late`.
      this.iopubListeners.set(id, (m) => {
        if (m.header.msg_type !== "status") this.late.push(m);
      });
      this.shellListeners.delete(id);
    }
    const content = reply!.content;
    return {
      msgId: id,
      status: String(content.status),
      executionCount: (content.execution_count as number) ?? null,
      messages,
      outputDropped,
    };
  }

  /**
   * Ends the kernel: asks it to shut down (unless `force`, or the start options' signal aborted),
   * then SIGTERM and at last SIGKILL to its process group, until the process is gone; ends
   * whatever its cells started in that group, closes the sockets and removes the connection file.
   */
  async shutdown(options: { force?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const force = options.force || this.signal?.aborted;
    if (!this.exited && !force) {
      await this.control
        .send(
          encode(newMessage("shutdown_request", this.session, { restart: false }), this.conn.key),
        )
        .catch(() => undefined);
      await this.exitWithin(SHUTDOWN_GRACE_MS);
    }
    if (!this.exited) {
      this.signalGroup("SIGTERM");
      await this.exitWithin(TERM_GRACE_MS);
    }
    if (!this.exited) {
      this.signalGroup("SIGKILL");
      await this.exitWithin(TERM_GRACE_MS);
    }
    this.signalGroup("SIGKILL"); // what the cells started and left in the kernel's group
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
    running.delete(this);
  }

  /** Waits until the process has exited, or `ms` passed. */
  private exitWithin(ms: number): Promise<void> {
    return Promise.race([this.exitedNow, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  }

  /** Sends a signal to the kernel's process group (or to the kernel where there are none). */
  private signalGroup(signal: NodeJS.Signals): void {
    try {
      if (OWN_GROUP && this.proc.pid) process.kill(-this.proc.pid, signal);
      else this.proc.kill(signal);
    } catch {
      // the group is gone already
    }
  }

  private onExit: (why: string) => void = () => undefined;

  private pump(): void {
    const read = async (sock: zmq.Dealer | zmq.Subscriber, listeners: Map<string, Listener>) => {
      try {
        for await (const frames of sock) {
          let msg: Message;
          try {
            msg = decode(frames as Buffer[], this.conn.key);
          } catch (e) {
            this.log.push(`[runner] dropped a message: ${(e as Error).message}\n`);
            continue;
          }
          const parent = msg.parent_header.msg_id;
          if (parent) listeners.get(parent)?.(msg);
        }
      } catch {
        // socket closed
      }
    };
    void read(this.shell, this.shellListeners);
    void read(this.iopub, this.iopubListeners);
    this.proc.stdout?.on("data", (d) => this.log.push(String(d)));
    this.proc.stderr?.on("data", (d) => this.log.push(String(d)));
    this.proc.on("error", (e) => this.log.push(`[runner] kernel process: ${e.message}\n`));
    this.proc.on("exit", (code, signal) => {
      this.exited = `exit code ${code}${signal ? `, signal ${signal}` : ""}`;
      this.onExit(this.exited);
    });
  }

  /**
   * Sends kernel_info requests until one is answered on shell and seen on iopub (ZeroMQ
   * subscribers join late).
   */
  private async handshake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.signal?.aborted) throw new Error(abortMessage(this.signal));
      if (this.exited)
        throw new Error(`kernel exited during start-up (${this.exited}):\n${this.processLog()}`);
      const msg = newMessage("kernel_info_request", this.session, {});
      const id = msg.header.msg_id;
      const seen = new Promise<boolean>((resolve) => {
        let shellOk = false;
        let iopubOk = false;
        const check = () => shellOk && iopubOk && resolve(true);
        this.shellListeners.set(id, () => ((shellOk = true), check()));
        this.iopubListeners.set(id, () => ((iopubOk = true), check()));
        setTimeout(() => resolve(false), 1000).unref();
      });
      await this.shell.send(encode(msg, this.conn.key));
      const ok = await seen;
      this.shellListeners.delete(id);
      this.iopubListeners.delete(id);
      if (ok) return;
    }
    throw new Error(
      `kernel did not answer within ${Math.round(timeoutMs / 1000)} s:\n${this.processLog()}`,
    );
  }
}

/** How often {@link onNpmScriptStopped} looks at the parent process. */
const PARENT_POLL_MS = 500;

/**
 * Calls `onStop` once when this process runs as an npm script (`npm run notebooks`, `npm run
 * lab`) and the shell that npm started it in is gone. npm passes SIGINT and SIGTERM on to that
 * shell only, which dies of them without passing them on, so without this a `kill` of npm would
 * leave this process running (a terminal's Ctrl+C reaches all of them and needs no help).
 * Processes not started by npm are left alone when their parent ends.
 */
export function onNpmScriptStopped(onStop: () => void): void {
  if (!process.env.npm_lifecycle_event) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onStop();
  }, PARENT_POLL_MS).unref();
}

/** Asks the OS for `n` free TCP ports on the loopback interface. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
