import { Image, createCanvas } from "@napi-rs/canvas";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { VegaLiteSpec } from "./spec";

/**
 * Compiles a Vega-Lite v5 spec to a Vega spec.
 * @throws with vega-lite's message when the spec is invalid.
 */
export function compile(spec: VegaLiteSpec): vega.Spec {
  return vl.compile(spec as unknown as TopLevelSpec).spec;
}

/** Renders a Vega-Lite spec to an SVG string in Node, with vega's headless renderer (no browser). */
export async function toSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec)), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG string to PNG bytes with @napi-rs/canvas; `scale` 2 gives crisp text. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const image = new Image();
  image.src = Buffer.from(svg);
  if (!image.width || !image.height) throw new Error("svgToPng: the SVG has no width/height");
  const canvas = createCanvas(Math.ceil(image.width * scale), Math.ceil(image.height * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  return canvas.toBuffer("image/png");
}

/** Plain-text alternative of a chart: its title and the description the builders write. */
export function altText(spec: VegaLiteSpec): string {
  const title = typeof spec.title === "string" ? spec.title : (spec.title as { text?: string } | undefined)?.text;
  const description = typeof spec.description === "string" ? spec.description : "";
  return [title ? `[chart] ${title}` : "[chart]", description].filter(Boolean).join(": ");
}

/** The MIME bundle of one chart: interactive Vega-Lite, static SVG and PNG (base64), and alt text. */
export interface ChartBundle {
  "application/vnd.vegalite.v5+json": VegaLiteSpec;
  "image/svg+xml": string;
  "image/png": string;
  "text/plain": string;
}

/** Renders everything a notebook output needs for one chart. */
export async function chartBundle(spec: VegaLiteSpec): Promise<ChartBundle> {
  const svg = await toSvg(spec);
  return {
    "application/vnd.vegalite.v5+json": spec,
    "image/svg+xml": svg,
    "image/png": svgToPng(svg).toString("base64"),
    "text/plain": altText(spec),
  };
}
