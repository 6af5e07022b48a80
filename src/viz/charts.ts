import { Matrix } from "../core/matrix";
import { heatmap } from "./heatmap";
import { ChartOptions, VegaLiteSpec, asPanel, fmt, round, topLevel } from "./spec";
import { History } from "../core/history";

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** Axis titles. */
  xTitle?: string;
  yTitle?: string;
  /** Logarithmic y axis (e.g. gradient norms). */
  logY?: boolean;
  /** Dash these series (e.g. shifted copies, validation curves). */
  dashed?: string[];
  /** Whole-number ticks on the x axis (epochs, counts); default: when every x is a whole number. */
  integerX?: boolean;
  /** Mark every point too (default false), so a series of one point still shows. */
  points?: boolean;
  /** d3 format of the x axis' labels, e.g. `d` for years without a thousands separator. */
  xFormat?: string;
}

/**
 * Axis properties for a count axis (epochs, sizes) spanning `lo`..`hi`: ticks at whole numbers
 * only, at most about `maxTicks` of them (steps of 1, 2, 5, 10, 20, 50, ...), printed without
 * decimals. Explicit values, because Vega-Lite 5 drops `tickMinStep` when it compiles.
 */
export function integerAxis(
  lo: number,
  hi: number,
  maxTicks = 10,
): { values: number[]; format: string } {
  const from = Math.ceil(lo),
    to = Math.floor(hi);
  let step = 1;
  for (let k = 0; (to - from) / step > maxTicks; k++)
    step = [1, 2, 5][(k + 1) % 3] * 10 ** Math.floor((k + 1) / 3);
  const values: number[] = [];
  for (let v = Math.ceil(from / step) * step; v <= to; v += step) values.push(v);
  return { values, format: ",d" };
}

/** The x axis of {@link lineChart}: whole-number ticks over `xs` when given, then `format`. */
function xAxis(xs: number[] | undefined, format: string | undefined): { axis?: object } {
  const axis = {
    ...(xs ? integerAxis(Math.min(...xs), Math.max(...xs)) : {}),
    ...(format ? { format } : {}),
  };
  return Object.keys(axis).length ? { axis } : {};
}

/**
 * Several named series over a shared x axis as coloured lines with a legend.
 * @throws when a series' length differs from `x`'s.
 */
export function lineChart(
  x: ArrayLike<number>,
  series: Record<string, ArrayLike<number>>,
  options: LineChartOptions = {},
): VegaLiteSpec {
  const names = Object.keys(series);
  if (names.length === 0) throw new Error("lineChart: series must name at least one series");
  const xs = Array.from(x);
  const integerX = options.integerX ?? xs.every(Number.isInteger);
  const values: { x: number; y: number; series: string }[] = [];
  for (const name of names) {
    const ys = series[name];
    if (ys.length !== x.length) {
      throw new Error(`lineChart: series "${name}" has ${ys.length} points but x has ${x.length}`);
    }
    for (let i = 0; i < x.length; i++) {
      if (Number.isFinite(ys[i]))
        values.push({ x: round(x[i], 6), y: round(ys[i], 6), series: name });
    }
  }
  const body = {
    width: options.width ?? 420,
    height: options.height ?? 240,
    data: { values },
    mark: { type: "line", clip: true, ...(options.points ? { point: true } : {}) },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: options.xTitle ?? "x",
        ...xAxis(integerX && xs.length > 0 ? xs : undefined, options.xFormat),
      },
      y: {
        field: "y",
        type: "quantitative",
        title: options.yTitle ?? "y",
        scale: options.logY ? { type: "log" } : { zero: false },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        sort: names,
        legend: { labelLimit: 400 },
      },
      strokeDash: {
        condition: {
          test: `indexof(${JSON.stringify(options.dashed ?? [])}, datum.series) >= 0`,
          value: [6, 3],
        },
        value: [1, 0],
      },
      tooltip: [{ field: "series" }, { field: "x" }, { field: "y", format: ".4g" }],
    },
  };
  const named = options.title ? ` "${options.title}"` : "";
  const description =
    `Line chart${named} of ${names.join(", ")} ` +
    `over ${x.length} points of ${options.xTitle ?? "x"}.`;
  return topLevel(body, options.title, description);
}

/**
 * Training history as line charts, one panel per metric, training (solid) vs validation
 * (`val_` prefix, dashed) in the same panel.
 */
export function historyChart(
  history: History,
  options: ChartOptions & { metrics?: string[] } = {},
): VegaLiteSpec {
  const metrics = options.metrics ?? Object.keys(history).filter((k) => !k.startsWith("val_"));
  if (metrics.length === 0) throw new Error("historyChart: history has no metrics");
  const panels = metrics.map((metric) => {
    const train = history[metric];
    if (!train)
      throw new Error(
        `historyChart: history has no "${metric}" (has ${Object.keys(history).join(", ")})`,
      );
    const series: Record<string, number[]> = { [`train ${metric}`]: train };
    const val = history[`val_${metric}`];
    if (val) series[`validation ${metric}`] = val;
    const epochs = train.map((_, i) => i + 1);
    return asPanel(
      lineChart(epochs, series, {
        title: metric,
        xTitle: "epoch",
        yTitle: metric,
        width: options.width ?? 300,
        height: options.height ?? 200,
        dashed: [`validation ${metric}`],
        logY: metric === "lr",
        integerX: true,
      }),
    );
  });
  const last = metrics.map((m) => `${m} ${fmt(history[m][history[m].length - 1])}`).join(", ");
  const epochs = history[metrics[0]].length;
  const description = `Training history over ${epochs} epochs; last values: ${last}.`;
  return topLevel(
    { hconcat: panels, resolve: { scale: { color: "independent", strokeDash: "independent" } } },
    options.title,
    description,
  );
}

/** Training seen batch by batch, as {@link TrainingProgress} records it for the live view. */
export interface TrainingCurve {
  /** Where each batch point lies, in epochs (1.5: halfway through the second epoch). */
  x: number[];
  /** Metric name to its smoothed training value at each batch point. */
  smoothed: Record<string, number[]>;
  /** Where each finished epoch ended, in epochs (1, 2, ...; later ones after a resume). */
  epochX: number[];
  /** Metric name (`val_loss`, ...) to its value at the end of each finished epoch. */
  epochs: History;
}

/**
 * The live training view: per metric, the smoothed training value batch by batch (so even a
 * single epoch shows a curve) and the validation value at each epoch end, on one axis in epochs.
 */
export function trainingCurveChart(
  curve: TrainingCurve,
  options: ChartOptions & { metrics?: string[] } = {},
): VegaLiteSpec {
  const metrics = options.metrics ?? Object.keys(curve.smoothed);
  if (metrics.length === 0) throw new Error("trainingCurveChart: the curve has no metrics");
  const from = Math.floor(curve.x[0] ?? 0),
    to = Math.max(from + 1, Math.ceil(curve.x[curve.x.length - 1] ?? 1));
  const axis =
    to - from <= 1
      ? { values: [0, 0.25, 0.5, 0.75, 1].map((f) => from + f), format: ".2~f" }
      : integerAxis(from, to, 8);
  const x = {
    field: "x",
    type: "quantitative",
    title: "epochs",
    scale: { domain: [from, to], nice: false, padding: 8 },
    axis,
  };
  const panels = metrics.map((metric) => {
    const ys = curve.smoothed[metric];
    if (!ys)
      throw new Error(
        `trainingCurveChart: no "${metric}" in the curve ` +
          `(has ${Object.keys(curve.smoothed).join(", ")})`,
      );
    const train = curve.x
      .map((xi, i) => ({ x: round(xi, 5), y: round(ys[i], 5) }))
      .filter((p) => Number.isFinite(p.y));
    const val = (curve.epochs[`val_${metric}`] ?? []).map((y, e) => ({
      x: curve.epochX[e],
      y: round(y, 5),
    }));
    const y = { field: "y", type: "quantitative", title: metric, scale: { zero: false } };
    const layer: VegaLiteSpec[] = [
      {
        data: { values: train },
        mark: { type: "line", clip: true },
        encoding: { x, y, color: { datum: "training (smoothed, per batch)" } },
      },
    ];
    if (val.length)
      layer.push({
        data: { values: val },
        mark: { type: "line", point: val.length <= 30, strokeDash: [6, 3] },
        encoding: { x, y, color: { datum: "validation (epoch end)" } },
      });
    return { title: metric, width: options.width ?? 300, height: options.height ?? 180, layer };
  });
  const last = metrics
    .map((m) => `${m} ${fmt(curve.smoothed[m][curve.smoothed[m].length - 1])}`)
    .join(", ");
  const epochs = fmt(curve.x[curve.x.length - 1] ?? 0);
  const description =
    `Training curve over ${curve.x.length} batch points (${epochs} epochs); ` +
    `smoothed: ${last}.`;
  return topLevel(
    { hconcat: panels, config: { legend: { orient: "bottom", title: null, labelLimit: 300 } } },
    options.title,
    description,
  );
}

/**
 * A series with predictions: the observed values and one or more predicted series on the
 * same time axis; predictions may start later than the series (`offset`).
 */
export function seriesWithPredictions(
  actual: ArrayLike<number>,
  predictions: Record<string, ArrayLike<number>>,
  options: LineChartOptions & { offset?: number; x?: ArrayLike<number> } = {},
): VegaLiteSpec {
  const offset = options.offset ?? 0;
  const x = options.x ?? Array.from({ length: actual.length }, (_, i) => i);
  const series: Record<string, number[]> = { observed: Array.from(actual) };
  for (const [name, p] of Object.entries(predictions)) {
    if (offset + p.length > actual.length) {
      throw new Error(
        `seriesWithPredictions: "${name}" (${p.length} values from ${offset}) ` +
          `runs past the series (${actual.length})`,
      );
    }
    const full = new Array<number>(actual.length).fill(NaN);
    for (let i = 0; i < p.length; i++) full[offset + i] = p[i];
    series[name] = full;
  }
  return lineChart(x, series, {
    xTitle: "t",
    yTitle: "value",
    ...options,
    dashed: Object.keys(predictions),
  });
}

/** A bar chart of one value per category. */
export function barChart(
  categories: string[],
  values: ArrayLike<number>,
  options: ChartOptions & { yTitle?: string; xTitle?: string } = {},
): VegaLiteSpec {
  if (categories.length !== values.length) {
    throw new Error(`barChart: ${categories.length} categories but ${values.length} values`);
  }
  const data = categories.map((c, i) => ({ category: c, value: round(values[i], 6) }));
  const body = {
    width: options.width ?? Math.max(200, 40 * categories.length),
    height: options.height ?? 220,
    data: { values: data },
    layer: [
      { mark: "bar" },
      {
        mark: { type: "text", dy: -6 },
        encoding: { text: { field: "value", type: "quantitative", format: ".4g" } },
      },
    ],
    encoding: {
      x: {
        field: "category",
        type: "nominal",
        sort: categories,
        title: options.xTitle ?? null,
        axis: { labelAngle: categories.length > 6 ? -40 : 0 },
      },
      y: { field: "value", type: "quantitative", title: options.yTitle ?? "value" },
      tooltip: [{ field: "category" }, { field: "value", format: ".4g" }],
    },
  };
  const named = options.title ? ` "${options.title}"` : "";
  const bars = data.map((d) => `${d.category} ${fmt(d.value)}`).join(", ");
  const description = `Bar chart${named}: ${bars}.`;
  return topLevel(body, options.title, description);
}

/**
 * A confusion matrix (rows: true class, columns: predicted class) as an annotated heat map.
 * @throws when the matrix is not square or the labels do not match its size.
 */
export function confusionMatrixChart(
  counts: Matrix,
  labels: string[],
  options: ChartOptions = {},
): VegaLiteSpec {
  if (counts.rows !== counts.cols || labels.length !== counts.rows) {
    throw new Error(
      "confusionMatrixChart: need a square matrix with one label per class, " +
        `got ${counts.rows}x${counts.cols} and ${labels.length} labels`,
    );
  }
  const spec = heatmap(counts, {
    ...options,
    scale: "gray",
    annotate: true,
    format: "d",
    render: "rect",
    legendTitle: "count",
    cellSize: options.width ? Math.floor(options.width / counts.cols) : 36,
  });
  const transform = spec.transform as object[];
  spec.transform = [
    ...transform,
    { calculate: `${JSON.stringify(labels)}[datum.i]`, as: "true class" },
    { calculate: `${JSON.stringify(labels)}[datum.j]`, as: "predicted class" },
  ];
  const relabel = (enc: Record<string, unknown>) => {
    enc.x = {
      field: "predicted class",
      type: "ordinal",
      sort: labels,
      title: "predicted",
      axis: { labelAngle: -40 },
    };
    enc.y = { field: "true class", type: "ordinal", sort: labels, title: "true" };
  };
  for (const layer of spec.layer as { encoding: Record<string, unknown> }[])
    relabel(layer.encoding);
  let total = 0;
  let correct = 0;
  for (let i = 0; i < counts.rows; i++) {
    for (let j = 0; j < counts.cols; j++) {
      total += counts.data[i * counts.cols + j];
      if (i === j) correct += counts.data[i * counts.cols + j];
    }
  }
  const accuracy = fmt(total ? correct / total : 0);
  spec.description =
    `Confusion matrix of ${labels.length} classes over ${total} samples; ` +
    `accuracy ${accuracy}.`;
  return spec;
}
