import { summarize } from "../core/stats";
import { lineChart } from "./charts";
import { ChartOptions, VegaLiteSpec, round, topLevel } from "./spec";

/** One labelled curve, one value per epoch. */
export interface Curve {
  label: string;
  values: number[];
}

/**
 * Curves of different lengths on one epoch axis: a shipped reference run beside the reader's
 * short run (the shorter ones simply stop), points marked so a one-epoch run still shows.
 * The first curve is solid, the others dashed.
 */
export function curvesChart(
  curves: Curve[],
  options: ChartOptions & { yTitle: string; logY?: boolean },
): VegaLiteSpec {
  if (curves.length === 0 || curves.some((c) => c.values.length === 0))
    throw new Error("curvesChart: need curves with at least one value each");
  const epochs = Math.max(...curves.map((c) => c.values.length));
  const x = Array.from({ length: epochs }, (_, i) => i + 1);
  const series = Object.fromEntries(
    curves.map((c) => [c.label, x.map((_, i) => c.values[i] ?? NaN)]),
  );
  return lineChart(x, series, {
    xTitle: "epoch",
    yTitle: options.yTitle,
    title: options.title,
    width: options.width ?? 520,
    height: options.height ?? 260,
    logY: options.logY,
    dashed: curves.slice(1).map((c) => c.label),
    points: epochs <= 60,
    integerX: true,
  });
}

/** One group of a {@link distributionChart}: a label and its values (one per seed). */
export interface Group {
  label: string;
  values: number[];
}

/**
 * One row per group: every value as a dot, the median as a tick, and a vertical rule at the
 * book's value, so the reader sees at once whether the book's single number is typical.
 */
export function distributionChart(
  groups: Group[],
  bookValue: number,
  options: ChartOptions & { xTitle: string; bookLabel?: string },
): VegaLiteSpec {
  if (groups.length === 0 || groups.some((g) => g.values.length === 0))
    throw new Error("distributionChart: need groups with at least one value each");
  const median = (v: number[]) => summarize(v).median;
  const points = groups.flatMap((g) =>
    g.values.map((v) => ({ group: g.label, value: round(v, 6) })),
  );
  const medians = groups.map((g) => ({ group: g.label, value: round(median(g.values), 6) }));
  const y = {
    field: "group",
    type: "nominal",
    title: null,
    sort: groups.map((g) => g.label),
    axis: { labelLimit: 420 },
  };
  const body = {
    width: options.width ?? 460,
    height: options.height ?? 40 * groups.length,
    layer: [
      {
        data: { values: points },
        mark: { type: "circle", size: 50, opacity: 0.6 },
        encoding: {
          x: {
            field: "value",
            type: "quantitative",
            title: options.xTitle,
            scale: { zero: false, nice: true },
            axis: { format: ".3f", tickCount: 6, labelOverlap: true },
          },
          y,
          tooltip: [{ field: "group" }, { field: "value", format: ".4f" }],
        },
      },
      {
        data: { values: medians },
        mark: { type: "tick", thickness: 3, color: "black" },
        encoding: {
          x: { field: "value", type: "quantitative" },
          y,
          tooltip: [{ field: "group" }, { field: "value", format: ".4f", title: "median" }],
        },
      },
      {
        data: { values: [{ value: bookValue, label: options.bookLabel ?? `book: ${bookValue}` }] },
        mark: { type: "rule", color: "firebrick", strokeDash: [4, 3] },
        encoding: { x: { field: "value", type: "quantitative" }, tooltip: [{ field: "label" }] },
      },
      {
        data: { values: [{ value: bookValue, label: options.bookLabel ?? `book: ${bookValue}` }] },
        mark: {
          type: "text",
          color: "firebrick",
          align: "left",
          dx: 4,
          dy: -6,
          baseline: "bottom",
        },
        encoding: {
          x: { field: "value", type: "quantitative" },
          y: { value: 0 },
          text: { field: "label" },
        },
      },
    ],
  };
  const named = options.title ? ` "${options.title}"` : "";
  const summary = groups
    .map((g) => `${g.label}: ${g.values.length} values, median ${median(g.values).toFixed(4)}`)
    .join("; ");
  const description = `Distribution chart${named}: ${summary}; book ${bookValue}.`;
  return topLevel(body, options.title, description);
}
