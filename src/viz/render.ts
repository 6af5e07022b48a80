import { Image, createCanvas, loadImage } from "@napi-rs/canvas";
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

/**
 * Renders a Vega-Lite spec to an SVG string in Node, with vega's headless renderer (no browser).
 */
export async function toSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec)), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An embedded raster image of a Vega SVG with its absolute position. */
interface PlacedImage {
  href: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Takes the data-URL `<image>` elements (heat maps drawn as images) out of a Vega SVG and
 * computes their absolute positions from the enclosing groups' translations.
 * Skia's SVG renderer does not draw embedded images, so `svgToPng` paints them itself.
 */
function extractImages(svg: string): { svg: string; images: PlacedImage[] } {
  const images: PlacedImage[] = [];
  const stack: [number, number][] = [[0, 0]];
  const translate = (tag: string): [number, number] => {
    const m = /transform="translate\(([-\d.e]+),\s*([-\d.e]+)\)"/.exec(tag);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  const stripped = svg.replace(/<g\b[^>]*>|<\/g>|<image\b[^>]*?(?:\/>|><\/image>)/g, (tag) => {
    const [ox, oy] = stack[stack.length - 1];
    if (tag.startsWith("</g")) {
      stack.pop();
      return tag;
    }
    const [dx, dy] = translate(tag);
    if (tag.startsWith("<g")) {
      stack.push([ox + dx, oy + dy]);
      return tag;
    }
    const href = /(?:xlink:)?href="(data:image\/[^"]+)"/.exec(tag)?.[1];
    if (!href) return tag;
    const num = (name: string) =>
      Number(new RegExp(`\\b${name}="([-\\d.e]+)"`).exec(tag)?.[1] ?? 0);
    images.push({
      href,
      x: ox + dx + num("x"),
      y: oy + dy + num("y"),
      width: num("width"),
      height: num("height"),
    });
    return "";
  });
  return { svg: stripped, images };
}

/**
 * Rasterises a Vega SVG string to PNG bytes with @napi-rs/canvas; `scale` 2 gives crisp text.
 * Embedded images are painted first (pixelated) and the rest of the SVG on top, on white.
 */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { svg: vector, images } = extractImages(svg);
  const image = new Image();
  // Our own white background goes first, so the SVG's background rect must not hide the images.
  image.src = Buffer.from(
    vector.replace(
      /^(<svg[^>]*>)<rect width="[\d.]+" height="[\d.]+" fill="white"(?:\/>|><\/rect>)/,
      "$1",
    ),
  );
  if (!image.width || !image.height) throw new Error("svgToPng: the SVG has no width/height");
  const canvas = createCanvas(Math.ceil(image.width * scale), Math.ceil(image.height * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  for (const placed of images) {
    const raster = await loadImage(Buffer.from(placed.href.split(",")[1], "base64"));
    ctx.drawImage(
      raster,
      placed.x * scale,
      placed.y * scale,
      placed.width * scale,
      placed.height * scale,
    );
  }
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  return canvas.toBuffer("image/png");
}

/** Plain-text alternative of a chart: its title and the description the builders write. */
export function altText(spec: VegaLiteSpec): string {
  const title =
    typeof spec.title === "string"
      ? spec.title
      : (spec.title as { text?: string } | undefined)?.text;
  const description = typeof spec.description === "string" ? spec.description : "";
  return [title ? `[chart] ${title}` : "[chart]", description].filter(Boolean).join(": ");
}

/**
 * The MIME bundle of one chart: interactive Vega-Lite, static SVG and PNG (base64), and alt text.
 */
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
    "image/png": (await svgToPng(svg)).toString("base64"),
    "text/plain": altText(spec),
  };
}
