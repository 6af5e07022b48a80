import { ChildProcess, spawn } from "child_process";
import { randomBytes, randomUUID } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as zmq from "zeromq";
import { ConnectionInfo, Message, decode, encode, newMessage } from "./wire";

/** Which tslab kernel to start. */
export type KernelKind = "tslab" | "jslab";

/** Options of {@link Kernel.start}. */
export interface KernelStartOptions {
  /** `tslab` (TypeScript, default) or `jslab` (JavaScript). */
  kind?: KernelKind;
  /** Working directory of the kernel (the notebook's folder, as JupyterLab does). */
  cwd: string;
  /** Environment of the kernel process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the kernel to answer (default 60 s). */
  startTimeoutMs?: number;
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

/** How long to wait for the "idle" status after the execute_reply before assuming it was dropped. */
const IDLE_GRACE_MS = 3000;

type Listener = (msg: Message) => void;

/**
 * A tslab kernel in a child process, driven over the Jupyter messaging protocol (ZeroMQ),
 * exactly as JupyterLab drives it.
 */
export class Kernel {
  private readonly session = randomUUID();
  private readonly iopubListeners = new Map<string, Listener>();
  private readonly shellListeners = new Map<string, Listener>();
  private exited: string | undefined;
  private readonly log: string[] = [];
  /** iopub messages that arrived for a request whose execution had already finished (late async errors); `parent_header.msg_id` says which. */
  readonly late: Message[] = [];

  private constructor(
    private readonly proc: ChildProcess,
    private readonly conn: ConnectionInfo,
    private readonly shell: zmq.Dealer,
    private readonly control: zmq.Dealer,
    private readonly iopub: zmq.Subscriber,
    private readonly dir: string,
  ) {}

  /** Starts a kernel and waits until it answers kernel_info on shell and publishes on iopub. */
  static async start(options: KernelStartOptions): Promise<Kernel> {
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
    fs.writeFileSync(connFile, JSON.stringify(conn));
    const args = [require.resolve("tslab/bin/tslab"), "kernel", "--config-path", connFile];
    if (options.kind === "jslab") args.push("--js");
    const proc = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const url = (port: number) => `tcp://${conn.ip}:${port}`;
    const shell = new zmq.Dealer({ linger: 0 });
    const control = new zmq.Dealer({ linger: 0 });
    const iopub = new zmq.Subscriber({ linger: 0 });
    shell.connect(url(conn.shell_port));
    control.connect(url(conn.control_port));
    iopub.connect(url(conn.iopub_port));
    iopub.subscribe();
    const kernel = new Kernel(proc, conn, shell, control, iopub, dir);
    kernel.pump();
    await kernel.handshake(options.startTimeoutMs ?? 60_000);
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
   * @throws when the kernel dies or `timeoutMs` passes first.
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
    let reply: Message | undefined;
    let idle = false;
    let outputDropped = false;
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
      this.onExit = (why) =>
        reject(new Error(`kernel died while running the cell: ${why}\n${this.processLog()}`));
      if (timeoutMs > 0) {
        setTimeout(
          () => reject(new Error(`cell did not finish within ${Math.round(timeoutMs / 1000)} s`)),
          timeoutMs,
        ).unref();
      }
    });
    await this.shell.send(encode(msg, this.conn.key));
    try {
      await done;
    } finally {
      // Keep listening: output printed after the cell finished (e.g. a late unhandled rejection) is recorded in `late`.
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

  /** Asks the kernel to shut down, then makes sure the process is gone and the sockets closed. */
  async shutdown(): Promise<void> {
    if (!this.exited) {
      await this.control
        .send(
          encode(newMessage("shutdown_request", this.session, { restart: false }), this.conn.key),
        )
        .catch(() => undefined);
      const gone = await Promise.race([
        new Promise<boolean>((r) => this.proc.once("exit", () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
      ]);
      if (!gone && !this.exited) this.proc.kill("SIGKILL");
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
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
    this.proc.on("exit", (code, signal) => {
      this.exited = `exit code ${code}${signal ? `, signal ${signal}` : ""}`;
      this.onExit(this.exited);
    });
  }

  /** Sends kernel_info requests until one is answered on shell and seen on iopub (ZeroMQ subscribers join late). */
  private async handshake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
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
    this.proc.kill("SIGKILL");
    throw new Error(
      `kernel did not answer within ${Math.round(timeoutMs / 1000)} s:\n${this.processLog()}`,
    );
  }
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
