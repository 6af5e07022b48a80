import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { NotebookRunResult, runNotebook } from "advanced-neural-models/dist/notebook/run";
import { ensureDeno } from "advanced-neural-models/dist/notebook/deno";
import { Notebook, cellSource } from "advanced-neural-models/dist/notebook/nbformat";
import { referenceRecord, signedDelta } from "advanced-neural-models";
import { joinedRegExp } from "./helpers";

const root = path.join(__dirname, "..");

/**
 * `CH10_TEST_BACKEND` (set by npm run test:webgpu) makes the kernels train on that backend
 * (`CH10_BACKEND`), and `CH10_TEST_NOTEBOOKS` (comma-separated name prefixes, e.g. `05,06,09`)
 * runs only those notebooks; the checks across the whole pack then do not run.
 * `CH10_TEST_DENO=0` leaves out the second run of each notebook in Deno's kernel.
 */
const FORCED_BACKEND = process.env.CH10_TEST_BACKEND;
const ONLY = process.env.CH10_TEST_NOTEBOOKS?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const results = path.join(root, "results", FORCED_BACKEND ? `smoke-${FORCED_BACKEND}` : "smoke");
const kernelEnv = {
  ...process.env,
  CH10_MODE: "smoke",
  ...(FORCED_BACKEND ? { CH10_BACKEND: FORCED_BACKEND } : {}),
};
const wholePack = ONLY ? it.skip : it;
const inDeno = process.env.CH10_TEST_DENO === "0" ? it.skip : it;

/** Every notebook of the pack, subfolders included, in name order. */
function allNotebooks(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && !e.name.startsWith(".")) return allNotebooks(p);
      return e.isFile() && e.name.endsWith(".ipynb") ? [p] : [];
    })
    .sort();
}

const MIME = ["application/vnd.vegalite.v5+json", "image/png", "image/svg+xml", "text/plain"];

/** The text of every stream output of a notebook, in order. */
function streamsOf(nb: Notebook): string {
  return nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => (o.output_type === "stream" ? ([] as string[]).concat(o.text).join("") : ""))
    .join("");
}

/**
 * A run as a reader should see it: no failed cell, nothing on stderr, the backend line and the run
 * mode shown, no tfjs banner or raw object dump, and every chart as the four-MIME bundle.
 */
function assertCleanRun(r: NotebookRunResult): void {
  if (r.failure)
    assert.fail(
      `cell ${r.failure.cellNumber} failed:\n${r.failure.source}\n` +
        `--- error ---\n${r.failure.error}`,
    );
  assert.strictEqual(r.stderr, "", `stderr output a reader would see:\n${r.stderr}`);
  const outputs = r.notebook.cells.flatMap((c) => c.outputs ?? []);
  const text = streamsOf(r.notebook);
  assert.match(
    text,
    FORCED_BACKEND
      ? new RegExp(`backend: ${FORCED_BACKEND} \\(`)
      : /backend: (wasm|cpu|tensorflow|webgpu) \(/,
    "the notebook shows its backend line",
  );
  assert.match(text, /Run mode: smoke/, "the notebook shows its run mode");
  assert.doesNotMatch(text, /Hi, looks like you are running TensorFlow\.js in Node/);
  assert.doesNotMatch(
    text,
    /^\{ \w+: /m,
    "a raw object dump (a cell ending in an expression such as model.dispose())",
  );
  assert.doesNotMatch(JSON.stringify(outputs), /\\u001b\[/, "ANSI colour codes in an output");
  for (const cell of r.notebook.cells) {
    for (const o of cell.outputs ?? []) {
      if (o.output_type === "display_data" && "application/vnd.vegalite.v5+json" in o.data) {
        assert.deepStrictEqual(
          Object.keys(o.data).sort(),
          MIME,
          `chart in cell "${cellSource(cell).slice(0, 60)}"`,
        );
      }
    }
  }
}

describe("every notebook executes in smoke mode", function () {
  this.timeout(15 * 60 * 1000);
  const notebooks = allNotebooks(path.join(root, "notebooks")).filter(
    (f) => !ONLY || ONLY.some((p) => path.relative(path.join(root, "notebooks"), f).startsWith(p)),
  );

  it("finds the notebooks", () => assert.ok(notebooks.length >= 1));

  /** Each notebook's clean tslab run, which its Deno run is compared with. */
  const tslabRuns = new Map<string, Notebook>();
  for (const file of notebooks) {
    const name = path.relative(path.join(root, "notebooks"), file);
    it(`${name} runs end to end without errors or warnings`, async () => {
      const r = await runNotebook(file, { env: kernelEnv });
      fs.mkdirSync(results, { recursive: true });
      fs.writeFileSync(
        path.join(results, path.basename(file)),
        JSON.stringify(r.notebook, null, 1),
      );
      assertCleanRun(r);
      tslabRuns.set(file, r.notebook);
    });

    inDeno(`${name} runs in Deno's kernel with the same outputs as in tslab's`, async () => {
      const tslab = tslabRuns.get(file);
      assert.ok(tslab, "the tslab run of this notebook (the test before) failed");
      const r = await runNotebook(file, { env: kernelEnv, kernel: "deno" });
      assertCleanRun(r);
      const shape = (nb: Notebook) =>
        nb.cells.map((c, k) =>
          (c.outputs ?? []).map(
            (o) =>
              `cell ${k + 1}: ${o.output_type} ${"name" in o ? o.name : ""}` +
              Object.keys("data" in o ? o.data : {})
                .sort()
                .join(","),
          ),
        );
      assert.deepStrictEqual(
        shape(r.notebook),
        shape(tslab),
        "the cells' outputs (kinds, streams, MIME types) differ from tslab's",
      );
      const backendLine = (nb: Notebook) => /^backend: .*$/m.exec(streamsOf(nb))?.[0];
      assert.strictEqual(backendLine(r.notebook), backendLine(tslab), "the backend chosen");
    });
  }

  before(function () {
    if (process.env.CH10_TEST_DENO !== "0") {
      this.timeout(120_000);
      ensureDeno(); // fetched into .deno/ on first use (about 92 MB, 5 s on a fast line)
    }
  });

  wholePack(
    "every exercise is unsolved as shipped (its check fails) " +
      "and solved in notebooks/solutions (its check passes)",
    () => {
      const streams = (file: string) => {
        const nb = JSON.parse(fs.readFileSync(path.join(results, file), "utf8"));
        return nb.cells
          .flatMap(
            (c: { outputs?: { output_type: string; text?: string | string[] }[] }) =>
              c.outputs ?? [],
          )
          .filter((o: { output_type: string }) => o.output_type === "stream")
          .map((o: { text?: string | string[] }) => ([] as string[]).concat(o.text ?? []).join(""))
          .join("");
      };
      const count = (text: string, mark: string) => text.split(mark).length - 1;
      const solutions = fs
        .readdirSync(path.join(root, "notebooks", "solutions"))
        .filter((f) => f.endsWith("-solutions.ipynb"));
      assert.ok(solutions.length >= 9, `solutions: ${solutions.join(", ")}`);
      for (const file of solutions) {
        const solved = streams(file),
          shipped = streams(file.replace("-solutions", ""));
        const n = count(solved, "✔");
        assert.ok(n >= 2, `${file}: ${n} solved exercises`);
        assert.strictEqual(count(solved, "✘"), 0, `${file} has a failing check:\n${solved}`);
        assert.strictEqual(
          count(shipped, "✘"),
          n,
          `${file.replace("-solutions", "")} should leave its ${n} exercises unsolved`,
        );
        assert.strictEqual(count(shipped, "✔"), 0);
      }
    },
  );

  wholePack("00-index renders the fidelity table without results and with them", async () => {
    const html = (nb: { cells: { outputs?: unknown[] }[] }) =>
      nb.cells
        .flatMap((c) => (c.outputs ?? []) as { data?: Record<string, unknown> }[])
        .map((o) => String(o.data?.["text/html"] ?? ""))
        .join("")
        .replace(/<(td|th)\b[^>]*>/g, "<$1>"); // the cells' alignment styles
    const empty = fs.mkdtempSync(path.join(require("os").tmpdir(), "nores-"));
    const none = await runNotebook(path.join(root, "notebooks", "00-index.ipynb"), {
      env: { ...process.env, CH10_MODE: "smoke", CH10_RESULTS: empty },
    });
    assert.strictEqual(none.failure, undefined, none.failure?.error);
    const reference = referenceRecord("mnist")!;
    const epoch1 = reference.metrics.val_accuracy_epoch_1.toFixed(4);
    const shipped =
      `MNIST validation accuracy after epoch 1</td><td>0.9693</td><td>${epoch1}</td>` +
      `<td>${signedDelta(epoch1, "0.9693")}</td><td>R1</td><td>not run yet</td><td></td><td></td>`;
    assert.ok(
      html(none.notebook).includes(shipped),
      `the table should show the shipped reference: ${shipped}`,
    );
    assert.match(
      html(none.notebook),
      new RegExp(`<li><b>R1</b>: ${reference.metrics.epochs} epoch\\(s\\); tensorflow`),
      "the legend describes the MNIST reference run once",
    );
    assert.strictEqual(
      html(none.notebook).split(`${reference.metrics.epochs} epoch(s); tensorflow`).length - 1,
      1,
      "the MNIST run's description appears once, in the legend",
    );
    assert.match(html(none.notebook), /No experiment has been run yet/);
    assert.match(html(none.notebook), /Reference runs shipped in reference\//);
    const withRuns = fs.mkdtempSync(path.join(require("os").tmpdir(), "res-"));
    const { writeRecord } = await import("advanced-neural-models");
    await writeRecord(path.join(withRuns, "experiments", "mnist"), {
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
    });
    fs.mkdirSync(path.join(withRuns, "notebook-runs", "broken"), { recursive: true });
    fs.writeFileSync(path.join(withRuns, "notebook-runs", "broken", "results.json"), "{");
    const some = await runNotebook(path.join(root, "notebooks", "00-index.ipynb"), {
      env: { ...process.env, CH10_MODE: "smoke", CH10_RESULTS: withRuns },
    });
    assert.strictEqual(some.failure, undefined, some.failure?.error);
    assert.match(
      html(some.notebook),
      joinedRegExp(
        /MNIST validation accuracy after epoch 1<\/td><td>0\.9693<\/td>/,
        /<td>[^<]*<\/td><td>[^<]*<\/td><td>R1<\/td>/,
        /<td>0\.9712<\/td><td>\+0\.0019<\/td><td>Y1<\/td>/,
      ),
    );
    assert.match(
      html(some.notebook),
      /<li><b>Y1<\/b>: cli, cli, 1 epoch\(s\); wasm \(SIMD, 1 thread\); 2026-01-02<\/li>/,
    );
    const text = some.notebook.cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => ([] as string[]).concat((o as { text?: string | string[] }).text ?? []).join(""))
      .join("");
    assert.match(text, /skipped .*broken: .*results\.json: not valid JSON/);
  });

  wholePack(
    "01-convolution shows the photograph and the white square as vegalite+svg+png bundles",
    () => {
      const nb = JSON.parse(fs.readFileSync(path.join(results, "01-convolution.ipynb"), "utf8"));
      const titles = nb.cells
        .flatMap((c: { outputs?: { data?: Record<string, any> }[] }) => c.outputs ?? [])
        .filter(
          (o: { data?: Record<string, any> }) => o.data?.["image/png"] && o.data?.["image/svg+xml"],
        )
        .map((o: { data: Record<string, any> }) =>
          String(o.data["application/vnd.vegalite.v5+json"].title),
        );
      for (const t of [
        "Photograph (grayscale)",
        "Laplacian of the photograph",
        "White square: original, one and two applications of the Laplacian",
      ]) {
        assert.ok(titles.includes(t), `missing chart "${t}" (have: ${titles.join(" | ")})`);
      }
    },
  );
});
