import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import {
  COMPACT_BUDGET_BYTES,
  COMPACT_DIR,
  compactNotebook,
  notebookPaths,
  sourceMismatch,
} from "advanced-neural-models/dist/notebook/compact";
import { Notebook, readNotebook } from "advanced-neural-models/dist/notebook/nbformat";

const root = path.join(__dirname, "..");
const compactDir = path.join(root, COMPACT_DIR);

describe("the compact executed notebooks committed in reference/notebooks", () => {
  const names = notebookPaths(path.join(root, "notebooks"));

  it("hold every notebook and solution, with the notebook's cells (run npm run compact-notebooks)", () => {
    assert.ok(names.length >= 21, names.join(", "));
    assert.deepStrictEqual(notebookPaths(compactDir), names);
    for (const name of names) {
      const why = sourceMismatch(
        readNotebook(path.join(compactDir, name)),
        readNotebook(path.join(root, "notebooks", name)),
      );
      assert.strictEqual(why, undefined, `${name}: ${why}; run "npm run compact-notebooks"`);
    }
  });

  it("were run in the default mode to the end, and stay within their budget", () => {
    let total = 0;
    for (const name of names) {
      const file = path.join(compactDir, name);
      total += fs.statSync(file).size;
      const nb = readNotebook(file);
      const code = nb.cells.filter((c) => c.cell_type === "code");
      assert.ok(
        code.every((c) => c.execution_count != null),
        `${name}: every code cell executed`,
      );
      const outputs = code.flatMap((c) => c.outputs ?? []);
      assert.ok(!outputs.some((o) => o.output_type === "error"), `${name}: no failed cell`);
      assert.match(JSON.stringify(outputs), /Run mode: default/, `${name}: default mode`);
      for (const o of outputs)
        if ("data" in o && o.data["image/png"])
          assert.ok(!("image/svg+xml" in o.data), `${name}: a chart with both PNG and SVG`);
    }
    assert.ok(total < COMPACT_BUDGET_BYTES, `${(total / 2 ** 20).toFixed(2)} MiB`);
  });

  it("show 05's and 09's charts to static viewers (PNG) and to JupyterLab (Vega-Lite)", () => {
    for (const name of ["05-mnist-cnn.ipynb", "09-sunspots-lstm.ipynb"]) {
      const outputs = readNotebook(path.join(compactDir, name)).cells.flatMap(
        (c) => c.outputs ?? [],
      );
      const charts = outputs.filter(
        (o) => "data" in o && o.data["application/vnd.vegalite.v5+json"] && o.data["image/png"],
      );
      assert.ok(charts.length >= 5, `${name}: ${charts.length} charts`);
    }
  });
});

describe("compacting an executed notebook", () => {
  const nb = (): Notebook => ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "markdown", source: "# t", metadata: {} },
      {
        cell_type: "code",
        source: "show(x)",
        metadata: {},
        execution_count: 1,
        outputs: [
          {
            output_type: "display_data",
            metadata: {},
            data: { "image/png": "AA==", "image/svg+xml": "<svg/>", "text/plain": "c" },
          },
          { output_type: "display_data", metadata: {}, data: { "image/svg+xml": "<svg/>" } },
        ],
      },
    ],
  });

  it("drops the SVG of outputs that have a PNG, keeps a lone SVG, leaves the input alone", () => {
    const source = nb();
    const c = compactNotebook(source);
    const [a, b] = c.cells[1].outputs! as { data: Record<string, unknown> }[];
    assert.deepStrictEqual(Object.keys(a.data).sort(), ["image/png", "text/plain"]);
    assert.deepStrictEqual(Object.keys(b.data), ["image/svg+xml"]);
    assert.ok("image/svg+xml" in (source.cells[1].outputs![0] as { data: object }).data);
  });

  it("tells an executed copy of another version of the notebook", () => {
    const a = nb(),
      b = nb();
    assert.strictEqual(sourceMismatch(a, b), undefined);
    b.cells[1].source = "show(y)";
    assert.strictEqual(sourceMismatch(a, b), "cell 2 (code) differs from the notebook's");
    b.cells.pop();
    assert.strictEqual(sourceMismatch(a, b), "2 cells, the notebook has 1");
  });
});
