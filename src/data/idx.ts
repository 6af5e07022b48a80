import * as fs from "fs";
import * as zlib from "zlib";

/** Element types of the IDX format (third byte of the magic number) and their sizes in bytes. */
const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: "uint8", bytes: 1 },
  0x09: { name: "int8", bytes: 1 },
  0x0b: { name: "int16", bytes: 2 },
  0x0c: { name: "int32", bytes: 4 },
  0x0d: { name: "float32", bytes: 4 },
  0x0e: { name: "float64", bytes: 8 },
};

/** A decoded IDX file (the MNIST format): its shape and values. */
export interface IdxArray {
  shape: number[];
  /** Element type as stored (`uint8` for MNIST images and labels). */
  type: string;
  /** Values in row-major order. uint8 data is returned without copying. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Options of {@link readIdx}. */
export interface ReadIdxOptions {
  /** Expected element type (e.g. `uint8`); a different type is an error. */
  type?: string;
  /** Expected number of dimensions (3 for images, 1 for labels). */
  rank?: number;
}

/**
 * Reads an IDX file, raw or gzip-compressed (detected from its first bytes). Checks the magic
 * number (two zero bytes, a known type code, the rank), that the dimensions are positive, and
 * that the file holds exactly the data the header announces.
 * @throws an error naming the file and what is wrong (missing,
 * truncated, too long, bad magic, wrong type or rank).
 */
export function readIdx(file: string, options: ReadIdxOptions = {}): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(
      `${file}: cannot read IDX file ` +
        `(${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new Error(`${file}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(buf, file, options);
}

/** Parses IDX bytes already in memory; `name` is used in error messages. */
export function parseIdx(buf: Buffer, name: string, options: ReadIdxOptions = {}): IdxArray {
  if (buf.length < 4) throw new Error(`${name}: too short for an IDX header (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    const magic = buf.readUInt16BE(0).toString(16).padStart(4, "0");
    throw new Error(`${name}: not an IDX file (magic number starts 0x${magic}, expected 0x0000)`);
  }
  const type = TYPES[buf[2]];
  if (!type) throw new Error(`${name}: unknown IDX element type 0x${buf[2].toString(16)}`);
  const rank = buf[3];
  if (rank === 0) throw new Error(`${name}: IDX header declares zero dimensions`);
  const headerBytes = 4 + 4 * rank;
  if (buf.length < headerBytes)
    throw new Error(
      `${name}: truncated header (${buf.length} bytes, the ${rank} dimensions need ${headerBytes})`,
    );
  const shape = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  if (shape.some((d) => d === 0))
    throw new Error(`${name}: a dimension is zero (shape ${shape.join("x")})`);
  if (options.type && options.type !== type.name)
    throw new Error(`${name}: holds ${type.name} values, expected ${options.type}`);
  if (options.rank !== undefined && options.rank !== rank)
    throw new Error(
      `${name}: has ${rank} dimensions (${shape.join("x")}), expected ${options.rank}`,
    );
  const count = shape.reduce((a, d) => a * d, 1);
  const expected = headerBytes + count * type.bytes;
  if (buf.length < expected)
    throw new Error(
      `${name}: truncated: ${buf.length} bytes, ` +
        `the header (${shape.join("x")} ${type.name}) needs ${expected}`,
    );
  if (buf.length > expected)
    throw new Error(
      `${name}: ${buf.length - expected} unexpected bytes ` +
        `after the ${shape.join("x")} ${type.name} data`,
    );
  const body = buf.subarray(headerBytes);
  return { shape, type: type.name, data: decode(body, type.name, count) };
}

/**
 * IDX stores multi-byte values big-endian; typed arrays
 * use the machine's order, so those are converted.
 */
function decode(body: Buffer, type: string, count: number): IdxArray["data"] {
  switch (type) {
    case "uint8":
      return new Uint8Array(body.buffer, body.byteOffset, count);
    case "int8":
      return new Int8Array(body.buffer, body.byteOffset, count);
    case "int16":
      return Int16Array.from({ length: count }, (_, i) => body.readInt16BE(2 * i));
    case "int32":
      return Int32Array.from({ length: count }, (_, i) => body.readInt32BE(4 * i));
    case "float32":
      return Float32Array.from({ length: count }, (_, i) => body.readFloatBE(4 * i));
    default:
      return Float64Array.from({ length: count }, (_, i) => body.readDoubleBE(8 * i));
  }
}

/** Encodes an array as IDX bytes (used to write test fixtures and exported subsets). */
export function encodeIdx(shape: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = 0x08;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
