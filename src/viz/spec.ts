/** Vega-Lite v5 schema URL stamped on every chart this package builds. */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/**
 * A Vega-Lite v5 specification as plain JSON. The builders in this folder return these;
 * edit them freely before passing them to `show`.
 */
export type VegaLiteSpec = { [key: string]: unknown };

/** Options shared by every chart builder. */
export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** Width of the plotting area in pixels. */
  width?: number;
  /** Height of the plotting area in pixels. */
  height?: number;
}

/**
 * Wraps a body in a top-level spec with schema, title,
 * description (the alt text) and white background.
 */
export function topLevel(
  body: VegaLiteSpec,
  title: string | undefined,
  description: string,
): VegaLiteSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    ...(title ? { title } : {}),
    description,
    background: "white",
    ...body,
  };
}

/** Rounds to `digits` significant digits, keeping JSON small. */
export function round(v: number, digits = 4): number {
  return Number.isFinite(v) ? Number(v.toPrecision(digits)) : v;
}

/** Formats a number compactly for alt texts. */
export function fmt(v: number): string {
  return String(round(v, 3));
}

/** Drops the top-level-only keys so a chart can sit inside a `concat`. */
export function asPanel(spec: VegaLiteSpec): VegaLiteSpec {
  const panel = { ...spec };
  delete panel.$schema;
  delete panel.background;
  delete panel.description;
  return panel;
}
