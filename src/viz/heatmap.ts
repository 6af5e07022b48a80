import { createCanvas } from "@napi-rs/canvas";
import * as vega from "vega";
import { Matrix, extent } from "../core/matrix";
import { ChartOptions, VegaLiteSpec, asPanel, fmt, round, topLevel } from "./spec";

/** Options of {@link heatmap}. */
export interface HeatmapOptions extends ChartOptions {
  /**
   * Colour scale: `"auto"` (default) picks a diverging red-blue scale centred on 0 when the matrix
   * has both signs and a grayscale (0 black) otherwise; `"diverging"` and `"gray"` force one.
   */
  scale?: "auto" | "diverging" | "gray";
  /** Size of one cell in pixels (default: fits the longer side in 240 px, at least 2). */
  cellSize?: number;
  /**
   * Print each value in its cell (default: for matrices up to 8x8 drawn with cells of at least
   * 28 px). Either way, only when the longest label fits in a cell.
   */
  annotate?: boolean;
  /** d3 number format of the printed values (default `.3~g`; `d` for counts). */
  format?: string;
  /** Title of the colour legend (default "value"). */
  legendTitle?: string;
  /** Explicit colour domain [lo, hi] (e.g. to share one scale across panels). */
  domain?: [number, number];
  /**
   * How cells are drawn: `"rect"` (one mark per cell, with tooltips), `"image"` (one embedded PNG,
   * for photographs: keeps specs and SVGs small) or `"auto"` (default: image above 1,024 cells).
   */
  render?: "auto" | "rect" | "image";
}

/** Above this many cells `render: "auto"` draws the matrix as one embedded image. */
const IMAGE_THRESHOLD = 1024;

/**
 * A matrix (image, kernel, feature map) as a heat map: row 0 at the top, equal aspect ratio,
 * a colour legend, a diverging scale centred on 0 for signed values.
 * The values travel as one flat array and are indexed in Vega, which keeps the spec small.
 */
export function heatmap(m: Matrix, options: HeatmapOptions = {}): VegaLiteSpec {
  const [lo, hi] = options.domain ?? extent(m);
  const signed = options.scale === "diverging" || (options.scale !== "gray" && lo < 0 && hi > 0);
  const cell = options.cellSize ?? Math.max(2, Math.floor(240 / Math.max(m.rows, m.cols)));
  const format = options.format ?? ".3~g";
  const annotate =
    (options.annotate ?? (m.rows <= 8 && m.cols <= 8 && cell >= 28)) && labelsFit(m, cell, format);
  const limit = Math.max(Math.abs(lo), Math.abs(hi));
  const color = {
    field: "v",
    type: "quantitative",
    title: options.legendTitle ?? "value",
    scale: signed
      ? { scheme: "redblue", reverse: true, domain: [-limit, limit], domainMid: 0 }
      : { range: ["black", "white"], domain: [lo, hi] },
  };
  const useImage =
    options.render === "image" || (options.render !== "rect" && m.rows * m.cols > IMAGE_THRESHOLD);
  const size = { width: m.cols * cell, height: m.rows * cell };
  const body = useImage
    ? imageBody(m, color, signed ? { signed, lo: -limit, hi: limit } : { signed, lo, hi }, size)
    : rectBody(m, color, annotate, signed, signed ? limit / 2 : (lo + hi) / 2, size, format);
  const named = options.title ? ` "${options.title}"` : "";
  const diverging = signed ? " (diverging colours centred on 0)" : "";
  const description =
    `Heat map${named} of a ${m.rows}x${m.cols} matrix, ` +
    `values from ${fmt(lo)} to ${fmt(hi)}${diverging}.`;
  return topLevel(body, options.title, description);
}

/** Width of one character of an 11-px label, generously (digits, minus sign, point). */
const LABEL_CHAR_PX = 6.5;

/**
 * Whether every cell's printed value fits in a cell of `cell` pixels, estimated from the longest
 * label: `.3~g` prints at most 3 significant digits, `d` whole numbers.
 */
export function labelsFit(m: Matrix, cell: number, format: string): boolean {
  let longest = 0;
  for (const v of m.data) {
    const label = format === "d" ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
    longest = Math.max(longest, label.length);
  }
  return longest * LABEL_CHAR_PX <= cell - 4;
}

/** One rect mark per cell (and the value printed in it when `annotate`). */
function rectBody(
  m: Matrix,
  color: object,
  annotate: boolean,
  signed: boolean,
  textThreshold: number,
  size: { width: number; height: number },
  format: string,
): VegaLiteSpec {
  const axis = (n: number) => ({
    values: ticks(n),
    labelAngle: 0,
    title: null,
    grid: false,
    ticks: n <= 32,
  });
  const rect = {
    mark: { type: "rect", strokeWidth: 0 },
    encoding: {
      x: {
        field: "j",
        type: "ordinal",
        axis: axis(m.cols),
        scale: { paddingInner: 0, paddingOuter: 0 },
      },
      y: {
        field: "i",
        type: "ordinal",
        axis: axis(m.rows),
        scale: { paddingInner: 0, paddingOuter: 0 },
      },
      color,
      tooltip: [
        { field: "i", title: "row" },
        { field: "j", title: "col" },
        { field: "v", title: "value", format: ".4g" },
      ],
    },
  };
  const text = {
    mark: { type: "text", fontSize: 11 },
    encoding: {
      x: { field: "j", type: "ordinal" },
      y: { field: "i", type: "ordinal" },
      text: { field: "v", type: "quantitative", format },
      color: {
        condition: {
          test: `${signed ? "abs(datum.v)" : "datum.v"} > ${round(textThreshold)}`,
          value: signed ? "white" : "black",
        },
        value: signed ? "black" : "white",
      },
    },
  };
  return {
    ...size,
    data: { values: Array.from(m.data, (v) => round(v)) },
    transform: [
      { window: [{ op: "row_number", as: "k" }] },
      { calculate: `floor((datum.k - 1) / ${m.cols})`, as: "i" },
      { calculate: `(datum.k - 1) % ${m.cols}`, as: "j" },
      { calculate: "datum.data", as: "v" },
    ],
    ...(annotate ? { layer: [rect, text] } : rect),
  };
}

/**
 * The matrix painted into a PNG (one pixel per cell, the same colours Vega would use) shown by an
 * image mark on pixel-coordinate axes, plus an invisible layer that carries the colour legend.
 */
function imageBody(
  m: Matrix,
  color: object,
  range: { signed: boolean; lo: number; hi: number },
  size: { width: number; height: number },
): VegaLiteSpec {
  const redblue = vega.scheme("redblue") as (t: number) => string;
  const canvas = createCanvas(m.cols, m.rows);
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(m.cols, m.rows);
  const span = range.hi - range.lo || 1;
  for (let p = 0; p < m.data.length; p++) {
    const t = Math.min(1, Math.max(0, (m.data[p] - range.lo) / span));
    const rgb = range.signed ? parseRgb(redblue(1 - t)) : [255 * t, 255 * t, 255 * t];
    pixels.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * p);
  }
  ctx.putImageData(pixels, 0, 0);
  const url = `data:image/png;base64,${canvas.toBuffer("image/png").toString("base64")}`;
  const axis = { title: null, grid: false, labelAngle: 0 };
  return {
    ...size,
    layer: [
      {
        data: { values: [{ url }] },
        mark: {
          type: "image",
          ...size,
          align: "left",
          baseline: "top",
          smooth: false,
          aria: false,
        },
        encoding: {
          x: {
            datum: 0,
            type: "quantitative",
            scale: { domain: [0, m.cols], nice: false, zero: false },
            axis,
          },
          y: {
            datum: 0,
            type: "quantitative",
            scale: { domain: [0, m.rows], nice: false, zero: false, reverse: true },
            axis,
          },
          url: { field: "url", type: "nominal" },
        },
      },
      {
        data: { values: [{ v: range.lo }, { v: range.hi }] },
        mark: { type: "rect", opacity: 0 },
        encoding: {
          x: { datum: 0, type: "quantitative" },
          x2: { datum: 0 },
          y: { datum: 0, type: "quantitative" },
          y2: { datum: 0 },
          color,
        },
      },
    ],
  };
}

function parseRgb(css: string): number[] {
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(css);
  if (!m) throw new Error(`heatmap: unexpected colour ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Options of {@link heatmapGrid}. */
export interface HeatmapGridOptions extends HeatmapOptions {
  /** Panel titles, one per matrix (default "#0", "#1", ...). */
  titles?: string[];
  /** Panels per row (default 4). */
  columns?: number;
  /**
   * One colour domain and legend for every panel (`true`), one per panel (`false`), or `"auto"`
   * (default): shared when every panel already spans at least 75% of the common range (e.g.
   * images scaled to 0-1; for signed data, the largest magnitudes are compared).
   */
  shareScale?: boolean | "auto";
  /**
   * Widest the grid may be, in pixels: panels wrap to fewer
   * columns to fit (default 900, a notebook's output width).
   */
  maxWidth?: number;
}

/** Room a panel needs beside its cells: the row axis, and its own legend when it has one. */
const AXIS_PX = 30,
  LEGEND_PX = 75,
  GAP_PX = 20,
  TITLE_CHAR_PX = 7;

/**
 * A titled grid of heat maps, e.g. 16 feature maps or learned kernels.
 * With `shareScale` every panel uses the same colour domain so intensities compare across panels.
 */
export function heatmapGrid(mats: Matrix[], options: HeatmapGridOptions = {}): VegaLiteSpec {
  if (mats.length === 0) throw new Error("heatmapGrid: mats must hold at least one matrix");
  const {
    titles,
    columns = 4,
    shareScale: share = "auto",
    maxWidth = 900,
    title,
    ...rest
  } = options;
  if (titles && titles.length !== mats.length) {
    throw new Error(`heatmapGrid: got ${titles.length} titles for ${mats.length} matrices`);
  }
  const ranges = mats.map(extent);
  const union = [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
  // "the same range": every panel spans at least 75% of the union (images scaled to 0-1, say); a
  // signed (diverging, centred on 0) scale spans ±max|v|, so there the largest magnitudes are
  // compared
  const signed =
    rest.scale === "diverging" || (rest.scale !== "gray" && union[0] < 0 && union[1] > 0);
  const span = (r: number[]) => (signed ? Math.max(-r[0], r[1]) : r[1] - r[0]);
  const sameRange = ranges.every((r) => span(r) >= 0.75 * span(union));
  const shareScale = share === "auto" ? sameRange || rest.domain !== undefined : share;
  let domain = rest.domain;
  if (shareScale && !domain) domain = [union[0], union[1]];
  const longest = Math.max(...mats.map((m) => Math.max(m.rows, m.cols)));
  const cellSize = rest.cellSize ?? Math.max(2, Math.floor(120 / longest));
  const titleWidth = Math.max(...(titles ?? ["#00"]).map((t) => t.length * TITLE_CHAR_PX));
  const panelWidth =
    Math.max(Math.max(...mats.map((m) => m.cols)) * cellSize + AXIS_PX, titleWidth) +
    GAP_PX +
    (shareScale ? 0 : LEGEND_PX);
  const fitted = Math.max(
    1,
    Math.min(columns, Math.floor((maxWidth - (shareScale ? LEGEND_PX : 0)) / panelWidth)),
  );
  const panels = mats.map((m, k) => {
    return asPanel(heatmap(m, { ...rest, domain, cellSize, title: titles ? titles[k] : `#${k}` }));
  });
  const body: VegaLiteSpec = {
    columns: fitted,
    concat: panels,
    resolve: { scale: { color: shareScale ? "shared" : "independent" } },
  };
  const named = title ? ` "${title}"` : "";
  const oneScale =
    shareScale && domain ? `, one colour scale from ${fmt(domain[0])} to ${fmt(domain[1])}` : "";
  const description = `Grid of ${mats.length} heat maps${named}${oneScale}.`;
  return topLevel(body, title, description);
}

/** About 5-8 evenly spaced tick positions for an axis of `n` cells. */
function ticks(n: number): number[] {
  if (n <= 10) return Array.from({ length: n }, (_, i) => i);
  const step =
    [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((s) => n / s <= 8) ?? Math.ceil(n / 8);
  const out: number[] = [];
  for (let v = 0; v < n; v += step) out.push(v);
  return out;
}
