import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fidelityTable, findRecords, initBackend, writeRecord } from "advanced-neural-models";
import { runNotebook } from "advanced-neural-models/dist/notebook/run";
import { TEST_BACKEND, joinedRegExp } from "./helpers";

const root = path.join(__dirname, "..");
const index = path.join(root, "notebooks", "00-index.ipynb");

/** Every stream text a notebook run printed. */
function printed(nb: { cells: { outputs?: unknown[] }[] }): string {
  return nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => ([] as string[]).concat((o as { text?: string | string[] }).text ?? []).join(""))
    .join("");
}

const goodRecord = {
  experiment: "mnist",
  mode: "cli",
  settings: {},
  seed: 1,
  backend: "backend: wasm (SIMD, 1 thread): test",
  date: "2026-01-02T03:04:05Z",
  versions: { node: "", tfjs: "", package: "" },
  split: "",
  metrics: { val_accuracy_epoch_1: 0.97123, epochs: 1 },
  book: {},
  history: {},
  timings: { totalSeconds: 60, epochSeconds: [60], samplesPerSecond: 1 },
};

describe("the fidelity table with results it cannot use", function () {
  this.timeout(120_000);
  // the table counts parameters by building the book's models: they need a backend
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });

  it("a wrong-shaped record is skipped with its file named; the table still renders", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shape-"));
    try {
      await writeRecord(path.join(dir, "experiments", "mnist"), goodRecord);
      const bad = path.join(dir, "experiments", "odd");
      fs.mkdirSync(bad, { recursive: true });
      const { timings: _dropped, ...noTimings } = goodRecord;
      void _dropped;
      fs.writeFileSync(
        path.join(bad, "results.json"),
        JSON.stringify({ ...noTimings, date: 20260102 }),
      );
      const found = findRecords(dir);
      const skipped = found.find((f) => f.dir === bad);
      assert.match(
        skipped?.error ?? "",
        joinedRegExp(
          /odd[\\/]results\.json: not an experiment record /,
          /\(date is not an ISO 8601 date string; missing timings\)/,
        ),
      );
      const rows = fidelityTable(dir);
      const epoch1 = rows.find((r) => r.claim === "MNIST validation accuracy after epoch 1")!;
      assert.strictEqual(epoch1.yours, "0.9712");
      assert.match(epoch1.yoursRun, /^cli, cli, 1 epoch/);
      const run = await runNotebook(index, {
        env: { ...process.env, CH10_MODE: "smoke", CH10_RESULTS: dir },
      });
      assert.strictEqual(run.failure, undefined, run.failure?.error);
      assert.match(
        printed(run.notebook),
        /skipped .*odd: .*results\.json: not an experiment record/,
      );
      assert.match(printed(run.notebook), /\(1 record\(s\)\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("CH10_RESULTS naming a file: notebook 00 says so, not silently 0 records", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "resfile-"));
    const file = path.join(dir, "results");
    fs.writeFileSync(file, "not a folder");
    try {
      const run = await runNotebook(index, {
        env: { ...process.env, CH10_MODE: "smoke", CH10_RESULTS: file },
      });
      assert.strictEqual(run.failure, undefined, run.failure?.error);
      assert.match(
        printed(run.notebook),
        new RegExp(
          `skipped ${file.replace(/[\\\\/.]/g, ".")}: not a folder, ` +
            ".*CH10_RESULTS must name a folder",
        ),
      );
      assert.strictEqual(fs.readFileSync(file, "utf8"), "not a folder", "the file is left alone");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
