import { createHmac, randomUUID } from "crypto";

/** The Jupyter connection file a kernel is started with. */
export interface ConnectionInfo {
  transport: "tcp";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: "hmac-sha256";
  kernel_name?: string;
}

/** A decoded Jupyter message. */
export interface Message {
  header: {
    msg_id: string;
    msg_type: string;
    session: string;
    username: string;
    date: string;
    version: string;
  };
  parent_header: { msg_id?: string; [k: string]: unknown };
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

const DELIMITER = "<IDS|MSG>";

/** Builds a new request message of the given type. */
export function newMessage(
  msgType: string,
  session: string,
  content: Record<string, unknown>,
): Message {
  return {
    header: {
      msg_id: randomUUID(),
      msg_type: msgType,
      session,
      username: "runner",
      date: new Date().toISOString(),
      version: "5.3",
    },
    parent_header: {},
    metadata: {},
    content,
  };
}

function sign(key: string, parts: string[]): string {
  const hmac = createHmac("sha256", key);
  for (const p of parts) hmac.update(p);
  return hmac.digest("hex");
}

/**
 * Serialises a message into the frames a DEALER socket
 * sends (delimiter, signature, four JSON parts).
 */
export function encode(msg: Message, key: string): string[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) =>
    JSON.stringify(p),
  );
  return [DELIMITER, sign(key, parts), ...parts];
}

/**
 * Parses received frames (routing identities, delimiter, signature, four JSON parts, buffers).
 * @throws when the delimiter is missing or the HMAC signature does not match.
 */
export function decode(frames: Buffer[], key: string): Message {
  const at = frames.findIndex((f) => f.toString() === DELIMITER);
  if (at < 0) throw new Error("Jupyter message without <IDS|MSG> delimiter");
  const [signature, ...rest] = frames.slice(at + 1).map((f) => f.toString("utf8"));
  const parts = rest.slice(0, 4);
  if (key && sign(key, parts) !== signature)
    throw new Error("Jupyter message with a bad HMAC signature");
  const [header, parent_header, metadata, content] = parts.map((p) => JSON.parse(p));
  return { header, parent_header, metadata, content };
}
