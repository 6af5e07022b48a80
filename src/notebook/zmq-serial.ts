import { inTslabKernel } from "./tslab";

/** Whether {@link serializeKernelSends} has run in this kernel. */
let done = false;

/**
 * tslab 1.0.22 was written for zeromq 5, whose `send` queued synchronously; it calls zeromq 6's
 * `send` without awaiting it. zeromq 6 allows one send in progress per socket, so when output
 * comes faster than the socket flushes (a live training view under load, many `console.log`s),
 * the next send fails with "Socket is busy writing" and the kernel dies. This chains the sends of
 * each socket, which restores zeromq 5's behaviour. Does nothing outside a tslab kernel, and
 * nothing after the first call: {@link setUpKernel} (through `initBackend()`) and the first display
 * in a kernel call it; importing the library does not.
 */
export function serializeKernelSends(): void {
  if (done || !inTslabKernel()) return;
  done = true;
  let zmq: Record<string, unknown>;
  try {
    zmq = require("zeromq");
  } catch {
    return;
  }
  const base = (zmq.Socket as { prototype?: object } | undefined)?.prototype as
    ({ send?: unknown } & object) | undefined;
  const original = base?.send as ((this: object, msg: unknown) => Promise<void>) | undefined;
  if (!original || (base as Record<string, unknown>).__ch10SerialSend) return;
  const queues = new WeakMap<object, Promise<void>>();
  const send = function (this: object, msg: unknown): Promise<void> {
    const next = (queues.get(this) ?? Promise.resolve()).then(() => original.call(this, msg));
    queues.set(
      this,
      next.catch(() => undefined),
    );
    return next;
  };
  // The native prototype's `send` is read-only; each socket class gets its own property instead.
  for (const cls of Object.values(zmq)) {
    const proto = (cls as { prototype?: object } | undefined)?.prototype;
    if (
      typeof cls === "function" &&
      proto &&
      proto !== base &&
      base!.isPrototypeOf(proto) &&
      (proto as { send?: unknown }).send === original
    ) {
      Object.defineProperty(proto, "send", { value: send, writable: true, configurable: true });
    }
  }
  Object.defineProperty(base, "__ch10SerialSend", { value: true });
}
