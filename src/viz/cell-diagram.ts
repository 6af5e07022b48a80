import { ChartOptions, VegaLiteSpec, topLevel } from "./spec";

/** A block of a cell diagram: a gate (σ), a tanh, or an operation node (×, +, 1−). */
interface Block {
  x: number;
  y: number;
  label: string;
  kind: "gate" | "tanh" | "op";
}

/** A wire between two points of the diagram, in its 0..100 × 0..60 coordinates. */
type Wire = [number, number, number, number];

/** A text label at a point (signals: C_{t-1}, h_t, x_t, ...). */
interface Label {
  x: number;
  y: number;
  text: string;
  align?: "left" | "center" | "right";
}

interface Diagram {
  blocks: Block[];
  wires: Wire[];
  labels: Label[];
  description: string;
}

/**
 * The LSTM cell as the book draws it: the cell state C runs along the top, changed only by the
 * forget gate's product and the input gate's sum (the constant error carousel); the four blocks
 * below read [h_{t-1}, x_t]; the output gate scales tanh(C_t) into h_t.
 */
const LSTM: Diagram = {
  blocks: [
    { x: 20, y: 26, label: "σ  f", kind: "gate" },
    { x: 36, y: 26, label: "σ  i", kind: "gate" },
    { x: 50, y: 26, label: "tanh  C~", kind: "tanh" },
    { x: 66, y: 26, label: "σ  o", kind: "gate" },
    { x: 20, y: 50, label: "×", kind: "op" },
    { x: 43, y: 40, label: "×", kind: "op" },
    { x: 43, y: 50, label: "+", kind: "op" },
    { x: 82, y: 38, label: "tanh", kind: "tanh" },
    { x: 82, y: 26, label: "×", kind: "op" },
  ],
  wires: [
    [4, 50, 96, 50], // the cell state
    [4, 10, 66, 10], // [h_{t-1}, x_t] feeding the four blocks
    [12, 2, 12, 10], // x_t joins
    [20, 10, 20, 50],
    [36, 10, 36, 40],
    [36, 40, 43, 40],
    [50, 10, 50, 40],
    [50, 40, 43, 40],
    [43, 40, 43, 50],
    [66, 10, 66, 26],
    [66, 26, 82, 26],
    [82, 50, 82, 26],
    [82, 26, 96, 26], // h_t out
    [90, 26, 90, 10],
    [90, 10, 96, 10],
  ],
  labels: [
    { x: 3, y: 50, text: "C(t−1)", align: "right" },
    { x: 97, y: 50, text: "C(t)", align: "left" },
    { x: 3, y: 10, text: "h(t−1)", align: "right" },
    { x: 12, y: 0, text: "x(t)" },
    { x: 97, y: 26, text: "output h(t)", align: "left" },
    { x: 97, y: 10, text: "h(t) to the next step", align: "left" },
    { x: 31, y: 56, text: "constant error carousel: C changes only by × f and + i·C~" },
  ],
  description:
    "LSTM cell: cell state along the top, forget, input, candidate and output blocks below",
};

/**
 * The GRU cell as the book draws it: no separate state, h itself runs along the top; the update
 * gate z mixes h_{t-1} and the candidate h̃, which reads x_t and the reset gate's r ⊙ h_{t-1}.
 */
const GRU: Diagram = {
  blocks: [
    { x: 18, y: 26, label: "σ  r", kind: "gate" },
    { x: 34, y: 26, label: "σ  z", kind: "gate" },
    { x: 62, y: 26, label: "tanh  h~", kind: "tanh" },
    { x: 26, y: 42, label: "×", kind: "op" },
    { x: 34, y: 50, label: "×", kind: "op" },
    { x: 76, y: 38, label: "×", kind: "op" },
    { x: 76, y: 50, label: "+", kind: "op" },
    { x: 76, y: 18, label: "1−", kind: "op" },
  ],
  wires: [
    [4, 50, 96, 50], // h along the top
    [4, 10, 34, 10], // [h_{t-1}, x_t] into the gates
    [12, 2, 12, 10],
    [18, 10, 18, 42],
    [18, 42, 26, 42], // r ⊙ h(t−1): h taken before the update gate's product
    [26, 50, 26, 42],
    [26, 42, 62, 42],
    [62, 42, 62, 26],
    [12, 6, 62, 6], // x_t into the candidate
    [62, 6, 62, 26],
    [34, 10, 34, 50],
    [34, 18, 76, 18],
    [62, 26, 70, 26],
    [70, 26, 70, 38],
    [70, 38, 76, 38],
    [76, 18, 76, 38],
    [76, 38, 76, 50],
  ],
  labels: [
    { x: 3, y: 50, text: "h(t−1)", align: "right" },
    { x: 97, y: 50, text: "h(t)", align: "left" },
    { x: 3, y: 10, text: "h(t−1)", align: "right" },
    { x: 12, y: 0, text: "x(t)" },
    { x: 50, y: 56, text: "h(t) = z·h(t−1) + (1 − z)·h~" },
  ],
  description: "GRU cell: h along the top, reset and update gates and the candidate below",
};

/**
 * A schematic of the LSTM or GRU cell (the book's figures), as a Vega-Lite chart: wires, the
 * gate blocks (σ, tanh) and the operations (×, +, 1−) between them, with the signals named. The
 * candidates C̃ and h̃ are written `C~` and `h~`, since the renderer's fonts lack the tilde.
 */
export function cellDiagram(cell: "lstm" | "gru", options: ChartOptions = {}): VegaLiteSpec {
  const d = cell === "lstm" ? LSTM : GRU;
  const width = options.width ?? 560,
    height = options.height ?? 300;
  const x = { type: "quantitative", scale: { domain: [-14, 114] }, axis: null };
  const y = { type: "quantitative", scale: { domain: [-4, 60] }, axis: null };
  const at = (field: string, scale: object) => ({ field, ...scale });
  const boxes = d.blocks.filter((b) => b.kind !== "op");
  const ops = d.blocks.filter((b) => b.kind === "op");
  return topLevel(
    {
      width,
      height,
      config: { view: { stroke: null } },
      layer: [
        {
          data: { values: d.wires.map(([x1, y1, x2, y2]) => ({ x1, y1, x2, y2 })) },
          mark: { type: "rule", color: "#555", strokeWidth: 2 },
          encoding: { x: at("x1", x), y: at("y1", y), x2: { field: "x2" }, y2: { field: "y2" } },
        },
        {
          data: {
            values: boxes.map((b) => ({
              ...b,
              x1: b.x - 6,
              x2: b.x + 6,
              y1: b.y - 4,
              y2: b.y + 4,
            })),
          },
          mark: { type: "rect", stroke: "#333", cornerRadius: 3 },
          encoding: {
            x: at("x1", x),
            x2: { field: "x2" },
            y: at("y1", y),
            y2: { field: "y2" },
            color: {
              field: "kind",
              type: "nominal",
              scale: { domain: ["gate", "tanh"], range: ["#fdd49e", "#c6dbef"] },
              legend: null,
            },
          },
        },
        {
          data: { values: ops },
          mark: { type: "circle", size: 520, color: "white", stroke: "#333", opacity: 1 },
          encoding: { x: at("x", x), y: at("y", y) },
        },
        {
          data: { values: d.blocks },
          mark: { type: "text", fontSize: 13, fontWeight: "bold" },
          encoding: { x: at("x", x), y: at("y", y), text: { field: "label" } },
        },
        ...(["left", "center", "right"] as const).map((align) => ({
          data: { values: d.labels.filter((l) => (l.align ?? "center") === align) },
          mark: { type: "text", fontSize: 12, align },
          encoding: { x: at("x", x), y: at("y", y), text: { field: "text" } },
        })),
      ],
    },
    options.title,
    d.description,
  );
}
