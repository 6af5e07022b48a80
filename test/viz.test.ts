import * as assert from "assert";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import {
  DisplayContent,
  VegaLiteSpec,
  barChart,
  chartBundle,
  compile,
  confusionMatrixChart,
  fromRows,
  heatmap,
  heatmapGrid,
  integerAxis,
  labelsFit,
  historyChart,
  lineChart,
  randomMatrix,
  trainingCurveChart,
  seriesWithPredictions,
  setDisplaySink,
  show,
  svgToPng,
  toSvg,
  whiteSquare,
  zeros,
} from "advanced-neural-models";
import { CurveRecorder, TrainingProgress } from "advanced-neural-models/dist/train/progress";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Reads the pixel size of a PNG from its IHDR chunk. */
function pngSize(png: Buffer): [number, number] {
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), "not a PNG");
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

const builders: [string, () => VegaLiteSpec][] = [
  ["heatmap (unsigned, rects)", () => heatmap(whiteSquare(10, 4), { title: "square" })],
  [
    "heatmap (signed, annotated)",
    () =>
      heatmap(
        fromRows([
          [0, 1, 0],
          [1, -4, 1],
          [0, 1, 0],
        ]),
        { title: "kernel" },
      ),
  ],
  ["heatmap (image mode)", () => heatmap(randomMatrix(50, 60), { title: "big" })],
  [
    "heatmapGrid",
    () =>
      heatmapGrid([randomMatrix(5, 5, 1), randomMatrix(5, 5, 2), randomMatrix(5, 5, 3)], {
        title: "grid",
        shareScale: true,
      }),
  ],
  [
    "lineChart",
    () => lineChart([0, 1, 2], { a: [1, 2, 3], b: [3, 2, 1] }, { title: "lines", logY: true }),
  ],
  [
    "trainingCurveChart",
    () =>
      trainingCurveChart(
        {
          x: [0.25, 0.5, 0.75, 1, 1.5, 2],
          smoothed: { loss: [2, 1.5, 1.2, 1, 0.8, 0.7] },
          epochX: [1, 2],
          epochs: { val_loss: [1.1, 0.9] },
        },
        { title: "curve" },
      ),
  ],
  [
    "historyChart",
    () =>
      historyChart(
        {
          loss: [1, 0.5, 0.3],
          val_loss: [1.1, 0.7, 0.6],
          acc: [0.5, 0.8, 0.9],
          val_acc: [0.4, 0.7, 0.85],
        },
        { title: "history" },
      ),
  ],
  [
    "seriesWithPredictions",
    () =>
      seriesWithPredictions(
        [1, 2, 3, 4, 5],
        { model: [3.1, 3.9] },
        { offset: 2, title: "forecast" },
      ),
  ],
  ["barChart", () => barChart(["a", "b"], [1, 2], { title: "bars" })],
  [
    "confusionMatrixChart",
    () =>
      confusionMatrixChart(
        fromRows([
          [5, 1],
          [2, 7],
        ]),
        ["cat", "dog"],
        { title: "confusion" },
      ),
  ],
];

describe("chart builders", () => {
  for (const [name, build] of builders) {
    it(`${name}: compiles with vega-lite and renders to SVG and PNG`, async () => {
      const spec = build();
      assert.strictEqual(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
      assert.ok(compile(spec).marks, "compiled Vega spec has marks");
      const svg = await toSvg(spec);
      assert.match(svg, /^<svg[^>]+width="\d+"/);
      assert.ok(svg.includes(String(spec.title)), "title is drawn");
      const width = Number(/width="(\d+)"/.exec(svg)![1]);
      const [pw] = pngSize(await svgToPng(svg, 2));
      assert.strictEqual(pw, 2 * width);
    });
  }

  it("heatmap draws one rect per cell and centres signed scales on 0", async () => {
    const spec = heatmap(
      fromRows([
        [-1, 3],
        [0, 2],
      ]),
      { annotate: false },
    );
    const svg = await toSvg(spec);
    const cells = svg.split('aria-roledescription="rect mark"').length - 1;
    assert.strictEqual(cells, 4);
    const color = (spec.encoding as Record<string, any>).color.scale as {
      domain: number[];
      domainMid: number;
    };
    assert.deepStrictEqual(color.domain, [-3, 3]);
    assert.strictEqual(color.domainMid, 0);
  });

  it("confusion matrices: counts as integers, no labels on cells too small to read", async () => {
    const svg = await toSvg(
      confusionMatrixChart(
        fromRows([
          [1135, 2],
          [3, 1010],
        ]),
        ["a", "b"],
      ),
    );
    assert.ok(svg.includes(">1135<") && svg.includes(">1010<"), "full integer counts drawn");
    const small = heatmap(
      fromRows([
        [1, 2],
        [3, 4],
      ]),
      { cellSize: 12 },
    );
    assert.ok(!("layer" in small), "no text layer on 12-pixel cells");
    assert.ok(
      "layer" in
        heatmap(
          fromRows([
            [1, 2],
            [3, 4],
          ]),
          { cellSize: 40 },
        ),
    );
  });

  it("heatmap keeps an equal aspect ratio", () => {
    const spec = heatmap(zeros(10, 30), { cellSize: 4 });
    assert.deepStrictEqual([spec.width, spec.height], [120, 40]);
  });

  it("image-mode heatmap embeds the matrix as pixels with the right grey levels", async () => {
    const m = zeros(40, 40);
    m.data.forEach((_, p) => (m.data[p] = (p % 40) / 39)); // left-to-right ramp 0..1
    const spec = heatmap(m, { render: "image" });
    const url = JSON.stringify(spec).match(/data:image\/png;base64,([A-Za-z0-9+/=]+)/)![1];
    const img = await loadImage(Buffer.from(url, "base64"));
    assert.deepStrictEqual([img.width, img.height], [40, 40]);
    const ctx = createCanvas(40, 40).getContext("2d");
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, 40, 40).data;
    for (const j of [0, 13, 39])
      assert.ok(Math.abs(px[4 * (5 * 40 + j)] - (255 * j) / 39) <= 1, `column ${j}`);
  });

  it("PNG rendering paints image-mode heat maps (not a blank plot)", async () => {
    const m = zeros(40, 40, 1); // all white ...
    m.data.fill(0, 0, 40 * 20); // ... with a black top half
    const png = await svgToPng(await toSvg(heatmap(m, { render: "image", cellSize: 4 })), 1);
    const img = await loadImage(png);
    const ctx = createCanvas(img.width, img.height).getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height).data;
    let dark = 0;
    for (let p = 0; p < data.length; p += 4)
      if (data[p] < 20 && data[p + 1] < 20 && data[p + 2] < 20) dark++;
    assert.ok(
      dark > 0.9 * 80 * 160,
      `expected the black half (~12,800 px) to be painted, found ${dark} dark pixels`,
    );
  });

  it("builders reject mismatched inputs with clear messages", () => {
    assert.throws(() => lineChart([0, 1], { a: [1] }), /series "a" has 1 points but x has 2/);
    assert.throws(() => barChart(["a"], [1, 2]), /1 categories but 2 values/);
    assert.throws(() => confusionMatrixChart(fromRows([[1, 2]]), ["a"]), /square matrix/);
    assert.throws(() => historyChart({ loss: [1] }, { metrics: ["acc"] }), /no "acc"/);
  });
});

describe("show(): one output, several MIME types", () => {
  afterEach(() => setDisplaySink(undefined));

  it("publishes exactly one display message with vega-lite, SVG, PNG and alt text", async () => {
    const messages: DisplayContent[] = [];
    setDisplaySink((content) => messages.push(content));
    const spec = heatmap(whiteSquare(8, 4), { title: "tiny square" });
    await show(spec);
    assert.strictEqual(messages.length, 1);
    const data = messages[0].data;
    assert.deepStrictEqual(Object.keys(data).sort(), [
      "application/vnd.vegalite.v5+json",
      "image/png",
      "image/svg+xml",
      "text/plain",
    ]);
    assert.deepStrictEqual(data["application/vnd.vegalite.v5+json"], spec);
    assert.match(String(data["image/svg+xml"]), /^<svg/);
    assert.ok(
      Buffer.from(String(data["image/png"]), "base64").subarray(0, 8).equals(PNG_SIGNATURE),
    );
    assert.match(String(data["text/plain"]), /tiny square.*8x8 matrix/);
  });

  it("chartBundle's alt text carries the description", async () => {
    const b = await chartBundle(barChart(["x", "y"], [1, 2.5], { title: "t" }));
    assert.strictEqual(b["text/plain"], '[chart] t: Bar chart "t": x 1, y 2.5.');
  });
});

describe("live training curve", () => {
  it("CurveRecorder smooths as a bias-corrected EMA (float64 loop) and thins long runs", () => {
    const r = new CurveRecorder(0.8, 10);
    const values = Array.from({ length: 50 }, (_, i) => Math.sin(i) + i / 10);
    values.forEach((v, i) => r.addBatch((i + 1) / 25, { loss: v }));
    // reference: s_t = 0.8 s_{t-1} + 0.2 v_t, reported as s_t / (1 - 0.8^t)
    const expected: number[] = [];
    let s = 0;
    values.forEach((v, i) => {
      s = 0.8 * s + 0.2 * v;
      expected.push(s / (1 - 0.8 ** (i + 1)));
    });
    assert.ok(
      r.curve.x.length >= 10 && r.curve.x.length < 20,
      `kept ${r.curve.x.length} of 50 points`,
    );
    r.curve.x.forEach((x, k) => {
      const i = Math.round(x * 25) - 1;
      assert.ok(
        Math.abs(r.curve.smoothed.loss[k] - expected[i]) < 1e-12,
        `point ${k} (batch ${i})`,
      );
    });
    assert.strictEqual(
      r.curve.smoothed.loss[0],
      values[0],
      "the first point is the first value, not pulled towards 0",
    );
    assert.strictEqual(r.curve.x[r.curve.x.length - 1] <= 2, true);
    assert.throws(() => new CurveRecorder(1), /smoothing must be in \[0, 1\)/);
  });

  // and historyChart's epochs tick at whole numbers
  it("trainingCurveChart: batches on an epoch axis, validation at epoch ends", () => {
    const spec = trainingCurveChart(
      {
        x: [0.5, 1, 1.5, 2],
        smoothed: { loss: [2, 1, 0.8, 0.6], acc: [0.2, 0.5, 0.6, 0.7] },
        epochX: [1, 2],
        epochs: { val_loss: [1.2, 0.9] },
      },
      { metrics: ["loss"] },
    );
    const [panel] = spec.hconcat as { layer: { data: { values: { x: number; y: number }[] } }[] }[];
    assert.strictEqual((spec.hconcat as unknown[]).length, 1);
    assert.deepStrictEqual(
      panel.layer[0].data.values.map((p) => p.x),
      [0.5, 1, 1.5, 2],
    );
    assert.deepStrictEqual(panel.layer[1].data.values, [
      { x: 1, y: 1.2 },
      { x: 2, y: 0.9 },
    ]);
    assert.throws(
      () =>
        trainingCurveChart(
          { x: [1], smoothed: { loss: [1] }, epochX: [], epochs: {} },
          { metrics: ["acc"] },
        ),
      /no "acc" in the curve/,
    );
    const history = historyChart({ loss: [1, 0.5] }) as {
      hconcat: { encoding: { x: { axis: unknown } } }[];
    };
    assert.deepStrictEqual(
      history.hconcat[0].encoding.x.axis,
      { values: [1, 2], format: ",d" },
      "a 2-epoch history ticks 1 and 2 only",
    );
    assert.deepStrictEqual(
      integerAxis(1, 200).values,
      [20, 40, 60, 80, 100, 120, 140, 160, 180, 200],
    );
    assert.deepStrictEqual(integerAxis(0, 15).values, [0, 2, 4, 6, 8, 10, 12, 14]);
    assert.deepStrictEqual(integerAxis(3, 15).values, [4, 6, 8, 10, 12, 14]);
    assert.deepStrictEqual(
      integerAxis(0, 60000).values,
      [0, 10000, 20000, 30000, 40000, 50000, 60000],
    );
  });

  it("a one-epoch run's live chart: a point per batch, validation at the end", async () => {
    const messages: DisplayContent[] = [];
    setDisplaySink((content) => messages.push(content));
    try {
      const p = new TrainingProgress({
        batchesPerEpoch: 4,
        epochs: 1,
        batchSize: 8,
        chartThrottleMs: 0,
        title: "one epoch",
      });
      await p.onEpochBegin(0);
      for (let b = 0; b < 4; b++)
        await p.onBatchEnd(b, { batch: b, size: 8, loss: 2 - b / 4, acc: 0.1 * b });
      await p.onEpochEnd(0, { loss: 1.3, acc: 0.3, val_loss: 1.4, val_acc: 0.25 });
      await p.onTrainEnd();
      assert.deepStrictEqual(p.curve.x, [0.25, 0.5, 0.75, 1]);
      assert.deepStrictEqual(
        Object.keys(p.curve.smoothed),
        ["loss", "acc"],
        "batch and size are not metrics",
      );
      const charts = messages.filter((m) => "application/vnd.vegalite.v5+json" in m.data);
      const last = charts[charts.length - 1].data["application/vnd.vegalite.v5+json"] as {
        hconcat: { layer: { data: { values: unknown[] } }[] }[];
      };
      assert.strictEqual(last.hconcat[0].layer[0].data.values.length, 4);
      assert.strictEqual(last.hconcat[0].layer[1].data.values.length, 1);
    } finally {
      setDisplaySink(undefined);
    }
  });
});

describe("heat-map grids that read well", () => {
  const legends = async (spec: VegaLiteSpec) =>
    ((await toSvg(spec)).match(/class="mark-group role-legend"/g) ?? []).length;

  it("one shared legend when panels span (nearly) the same range, else one per panel", async () => {
    const images = [1, 2, 3].map((k) => ({
      ...randomMatrix(6, 6, k),
      data: Float64Array.from(randomMatrix(6, 6, k).data, (v, i) =>
        i === 0 ? 0 : i === 1 ? 1 - k / 100 : Math.abs(v) % 1,
      ),
    }));
    assert.strictEqual(await legends(heatmapGrid(images, { scale: "gray" })), 1);
    const scaled = [fromRows([[0, 1]]), fromRows([[0, 10]]), fromRows([[-5, 5]])];
    assert.strictEqual(await legends(heatmapGrid(scaled)), 3);
    assert.strictEqual(await legends(heatmapGrid(scaled, { shareScale: true })), 1);
    // image-mode (> 1,024 cells) and rect-mode panels sharing
    // one legend: still a colour gradient, not a list of dots
    const mixed = await toSvg(
      heatmapGrid([randomMatrix(40, 40, 1), randomMatrix(20, 20, 2)], {
        shareScale: true,
        scale: "gray",
      }),
    );
    assert.match(mixed, /<linearGradient/);
  });

  it("wraps panels to the output width, long titles included", () => {
    const mats = Array.from({ length: 12 }, (_, k) => randomMatrix(28, 28, k));
    const columns = (spec: VegaLiteSpec) => spec.columns as number;
    assert.strictEqual(
      columns(heatmapGrid(mats, { columns: 6, cellSize: 3, shareScale: true })),
      6,
      "6 x (84 + 50) px fit in 900",
    );
    assert.strictEqual(
      columns(heatmapGrid(mats, { columns: 6, cellSize: 3, shareScale: false })),
      4,
      "with a legend each, 4 fit",
    );
    assert.strictEqual(
      columns(
        heatmapGrid(mats, {
          columns: 6,
          cellSize: 3,
          shareScale: true,
          titles: mats.map((_, k) => `a rather long title number ${k}`),
        }),
      ),
      3,
      "29 characters of title are wider than the panel",
    );
    assert.strictEqual(
      columns(heatmapGrid(mats, { columns: 6, cellSize: 12, maxWidth: 300 })),
      1,
      "never fewer than one",
    );
  });

  it("prints values only where the longest label fits its cell", () => {
    const thirds = fromRows([
      [1 / 3, -2 / 3],
      [0.5, 1],
    ]);
    assert.strictEqual(labelsFit(thirds, 30, ".3~g"), false, "−0.667 needs ~39 px");
    assert.strictEqual(labelsFit(thirds, 44, ".3~g"), true);
    assert.strictEqual(labelsFit(fromRows([[1135, 0]]), 36, "d"), true);
    const spec = heatmap(thirds, { cellSize: 30 });
    assert.ok(!("layer" in spec), "no text layer on cells too small for their labels");
    assert.ok("layer" in heatmap(thirds, { cellSize: 44 }));
  });
});
