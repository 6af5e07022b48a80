import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runNotebook } from "advanced-neural-models/dist/notebook/run";
import { Output, readNotebook } from "advanced-neural-models/dist/notebook/nbformat";
import { joinedRegExp } from "./helpers";

const fixtures = path.join(__dirname, "..", "test", "fixtures");
const cli = path.join(__dirname, "..", "dist", "cli", "run-notebooks.js");
const text = (o: Output) =>
  o.output_type === "stream" ? ([] as string[]).concat(o.text).join("") : "";

describe("headless notebook runner", () => {
  it("runs a notebook 2 folders deep importing the package, with a multi-MIME chart", async () => {
    const file = path.join(fixtures, "nested", "deeper", "good.ipynb");
    const before = fs.readFileSync(file, "utf8");
    const r = await runNotebook(file);
    assert.strictEqual(r.failure, undefined, r.failure?.error);
    assert.strictEqual(r.executedCells, 2);
    const [first, second] = r.notebook.cells.filter((c) => c.cell_type === "code");
    assert.strictEqual(text(first.outputs![0]), "2 2 -2,-2,-2,-2\n");
    assert.deepStrictEqual([first.execution_count, second.execution_count], [1, 2]);
    const display = second.outputs!.find((o) => o.output_type === "display_data") as {
      data: Record<string, unknown>;
    };
    assert.deepStrictEqual(Object.keys(display.data).sort(), [
      "application/vnd.vegalite.v5+json",
      "image/png",
      "image/svg+xml",
      "text/plain",
    ]);
    assert.strictEqual(second.outputs!.length, 1, "one output carries all MIME types");
    assert.strictEqual(fs.readFileSync(file, "utf8"), before, "source notebook untouched");
  });

  it("stops at a failing cell and reports its number, source and error text", async () => {
    const r = await runNotebook(path.join(fixtures, "failing.ipynb"));
    assert.ok(r.failure);
    assert.strictEqual(r.failure!.cellNumber, 3);
    assert.match(r.failure!.source, /throw new Error\(`deliberate failure/);
    assert.match(r.failure!.error, /deliberate failure 42/);
    assert.strictEqual(r.executedCells, 2, "the cell after the failure is not run");
    const last = r.notebook.cells[3];
    assert.strictEqual(last.execution_count, null);
    assert.ok(
      r.notebook.cells[2].outputs!.some((o) => o.output_type === "error"),
      "error recorded in the executed copy",
    );
  });

  it("fails on an unhandled rejection even though the cell itself succeeded", async () => {
    const r = await runNotebook(path.join(fixtures, "rejection.ipynb"));
    assert.ok(r.failure, "expected a failure");
    assert.strictEqual(r.failure!.cellNumber, 1);
    assert.match(r.failure!.error, /UnhandledPromiseRejection[\s\S]*escaped rejection 7/);
  });

  it("fails on an exception thrown after the cell finished", async () => {
    const r = await runNotebook(path.join(fixtures, "late-throw.ipynb"));
    assert.ok(r.failure, "expected a failure");
    assert.match(r.failure!.error, /UncaughtException[\s\S]*escaped throw 9/);
  });

  // tslab + zeromq 6 failed with 'Socket is busy writing'
  it("survives a burst of outputs faster than the socket flushes, three times", async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await runNotebook(path.join(fixtures, "burst-output.ipynb"), {
        cellTimeoutMs: 60000,
      });
      // neither a dead kernel nor a hang
      assert.strictEqual(r.failure, undefined, r.failure?.error);
      const text = r.notebook.cells[0]
        .outputs!.filter((o) => o.output_type === "stream")
        .map((o) => ([] as string[]).concat((o as { text: string | string[] }).text).join(""))
        .join("");
      // either every line arrived, or the runner says that
      // ZeroMQ dropped some (its publisher's high-water mark)
      if (!/line 2997 y+\ndone\n$/.test(text))
        assert.match(r.stderr, /\[runner\] cell 1 printed faster than ZeroMQ delivers/);
    }
  });

  it("reports TypeScript compile errors", async () => {
    const r = await runNotebook(path.join(fixtures, "type-error.ipynb"));
    assert.match(r.failure!.error, /not assignable to type 'number'/);
  });

  it("CLI: runs a folder in name order, the index last (it reads the others' results)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "order-"));
    const nb = (text: string) =>
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {
          kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" },
        },
        cells: [
          {
            cell_type: "code",
            id: "c0",
            metadata: {},
            outputs: [],
            execution_count: null,
            source: [`console.log("${text}");`],
          },
        ],
      });
    for (const name of ["01-b", "00-index", "00-a"])
      fs.writeFileSync(path.join(dir, `${name}.ipynb`), nb(name));
    const res = spawnSync(process.execPath, [cli, dir, "--out", path.join(dir, "out")], {
      cwd: path.join(__dirname, ".."),
      encoding: "utf8",
    });
    assert.strictEqual(res.status, 0, res.stdout + res.stderr);
    const order = res.stdout
      .split("\n")
      .filter((l) => /\.ipynb /.test(l))
      .map((l) => l.split(" ")[0]);
    assert.deepStrictEqual(order, ["00-a.ipynb", "01-b.ipynb", "00-index.ipynb"]);
  });

  it("CLI: a line per notebook, failures on stderr, non-zero exit, executed copies written", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "runner-test-"));
    const res = spawnSync(
      process.execPath,
      [cli, path.join(fixtures, "failing.ipynb"), path.join(fixtures, "nested"), "--out", out],
      {
        cwd: path.join(__dirname, ".."),
        encoding: "utf8",
      },
    );
    assert.strictEqual(res.status, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /failing\.ipynb\s+2\/3\s+cells\s+[\d.]+ s\s+FAILED at cell 3/);
    assert.match(res.stdout, /good\.ipynb\s+2\/2\s+cells\s+[\d.]+ s\s+ok/);
    assert.match(res.stdout, /1 passed, 1 failed/);
    assert.match(
      res.stderr,
      joinedRegExp(
        /Notebook: .*failing\.ipynb\nCell 3:\n {2}\| /,
        /throw new Error\(`deliberate failure \$\{a \+ 1\}`\);/,
      ),
    );
    assert.match(res.stderr, /Error:\n[\s\S]*Error: deliberate failure 42\n/);
    assert.doesNotMatch(
      res.stderr,
      /tslab\/dist|node:vm/,
      "tslab-internal stack frames are trimmed",
    );
    const written = readNotebook(path.join(out, "failing.ipynb"));
    assert.strictEqual(written.cells[1].execution_count, 1);
  });

  it("CLI: bad arguments give usage and exit 2", () => {
    const res = spawnSync(process.execPath, [cli, "--frobnicate"], { encoding: "utf8" });
    assert.strictEqual(res.status, 2);
    assert.match(res.stderr, /unknown option --frobnicate[\s\S]*Usage: npm run notebooks/);
    const missing = spawnSync(process.execPath, [cli, "no/such/folder"], { encoding: "utf8" });
    assert.strictEqual(missing.status, 2);
    assert.match(missing.stderr, /no\/such\/folder does not exist/);
  });

  it("readNotebook names the file on bad input", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-"));
    const bad = path.join(dir, "bad.ipynb");
    fs.writeFileSync(bad, "{not json");
    assert.throws(() => readNotebook(bad), /bad\.ipynb: not valid JSON/);
    fs.writeFileSync(bad, JSON.stringify({ nbformat: 3 }));
    assert.throws(() => readNotebook(bad), /bad\.ipynb: expected an nbformat 4 notebook/);
  });
});
