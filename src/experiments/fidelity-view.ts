import { publish } from "../viz/display";
import { Row, formatTable } from "../viz/text-table";
import { escapeHtmlText } from "../viz/table";
import { FidelityRow } from "./fidelity";

/**
 * The fidelity table as a reader takes it in: grouped by the book's section, each run named once
 * by a short label (R1, R2 for shipped reference runs, Y1, Y2 for the reader's) in a legend, and
 * each number beside its signed difference from the book's.
 */

/** The English of the book's section titles that the claims name. */
export const SECTION_ENGLISH: Record<string, string> = {
  二维离散卷积: "2-D discrete convolution",
  空洞卷积: "Dilated convolution",
  可分离卷积: "Separable convolution",
  转置卷积: "Transposed convolution",
  池化层: "Pooling layers",
  "使用 Keras 的深度卷积网络示例": "A deep convolutional network with Keras (MNIST)",
  "使用 Keras 和数据增强的深度卷积网络的示例":
    "A deep convolutional network with Keras and data augmentation (Fashion-MNIST)",
  "Keras 中的 LSTM 网络示例": "An LSTM network with Keras (sunspots)",
};

/** One line of a section's table. */
export interface FidelityLine {
  claim: string;
  book: string;
  reference: string;
  /** reference − book, signed, when both are plain decimals; else "". */
  "Δ reference": string;
  /** The reference run's label (R1...), or "computed now" / "-". */
  "ref. run": string;
  yours: string;
  /** yours − book, as above. */
  "Δ yours": string;
  /** The reader's run's label (Y1...), or "". */
  "your run": string;
  note: string;
}

/** The table's sections in the book's order, and the legend of run labels. */
export interface FidelityView {
  sections: { section: string; english: string; lines: FidelityLine[] }[];
  /** Label → the run's whole description, in the order the labels were given. */
  legend: { label: string; run: string }[];
}

const DECIMAL = /^-?\d+\.\d+$/;

/**
 * `value − book` with a sign and the value's own decimals (`+0.0012`, `−0.0005`, `0.0000`), when
 * both are plain decimals (not counts such as 1,120,074 or shapes such as 98×98); else "".
 */
export function signedDelta(value: string, book: string): string {
  if (!DECIMAL.test(value) || !DECIMAL.test(book)) return "";
  const digits = value.split(".")[1].length;
  const d = Number(value) - Number(book);
  const text = Math.abs(d).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${d > 0 ? "+" : "−"}${text}`;
}

/** Groups the rows by section and names each run once (see {@link FidelityView}). */
export function fidelityView(rows: FidelityRow[]): FidelityView {
  const legend: { label: string; run: string }[] = [];
  const labelOf = (prefix: "R" | "Y", run: string) => {
    if (run === "" || run === "-" || run === "computed now") return run;
    let entry = legend.find((e) => e.run === run && e.label.startsWith(prefix));
    if (!entry) {
      const n = legend.filter((e) => e.label.startsWith(prefix)).length + 1;
      entry = { label: `${prefix}${n}`, run };
      legend.push(entry);
    }
    return entry.label;
  };
  const sections: FidelityView["sections"] = [];
  for (const r of rows) {
    let group = sections.find((g) => g.section === r.section);
    if (!group) {
      group = { section: r.section, english: SECTION_ENGLISH[r.section] ?? "", lines: [] };
      sections.push(group);
    }
    group.lines.push({
      claim: r.claim,
      book: r.book,
      reference: r.reference,
      "Δ reference": signedDelta(r.reference, r.book),
      "ref. run": labelOf("R", r.referenceRun),
      yours: r.yours,
      "Δ yours": signedDelta(r.yours, r.book),
      "your run": labelOf("Y", r.yoursRun),
      note: r.note,
    });
  }
  // reference runs before the reader's in the legend
  legend.sort((a, b) => a.label[0].localeCompare(b.label[0]) || a.label.localeCompare(b.label));
  return { sections, legend };
}

const escape = escapeHtmlText;

/** The columns whose cells are numbers: right-aligned, in tabular figures. */
const NUMERIC: (keyof FidelityLine)[] = ["book", "reference", "Δ reference", "yours", "Δ yours"];

/** The view as one HTML table (a header row per section) and its legend. */
export function fidelityHtml(view: FidelityView, title?: string): string {
  const cols = Object.keys(view.sections[0]?.lines[0] ?? {}) as (keyof FidelityLine)[];
  const left = 'style="text-align:left"';
  const style = (c: keyof FidelityLine) =>
    NUMERIC.includes(c)
      ? `style="text-align:right;font-variant-numeric:tabular-nums` +
        `${c.startsWith("Δ") ? ";white-space:nowrap" : ""}"`
      : left;
  const head = cols.map((c) => `<th ${style(c)}>${escape(c)}</th>`);
  const body = view.sections.flatMap((g) => [
    `<tr><th colspan="${cols.length}" ${left}>${escape(g.section)}` +
      (g.english ? ` · ${escape(g.english)}` : "") +
      `</th></tr>`,
    ...g.lines.map(
      (l) => `<tr>${cols.map((c) => `<td ${style(c)}>${escape(l[c])}</td>`).join("")}</tr>`,
    ),
  ]);
  const caption = title ? `<caption>${escape(title)}</caption>` : "";
  const legend = view.legend.length
    ? `<p><b>Runs:</b></p><ul>${view.legend
        .map((e) => `<li><b>${e.label}</b>: ${escape(e.run)}</li>`)
        .join("")}</ul>`
    : "";
  return (
    `<table>${caption}<thead><tr>${head.join("")}</tr></thead>` +
    `<tbody>${body.join("")}</tbody></table>${legend}`
  );
}

/** The view as aligned text: one table per section, then the legend. */
export function fidelityText(view: FidelityView, title?: string): string {
  const parts = view.sections.map(
    (g) =>
      `${g.section}${g.english ? ` · ${g.english}` : ""}\n` +
      formatTable(g.lines as unknown as Row[]),
  );
  const legend = view.legend.map((e) => `${e.label}: ${e.run}`).join("\n");
  return [title, ...parts, legend ? `Runs:\n${legend}` : ""].filter(Boolean).join("\n\n");
}

/**
 * Shows the fidelity table grouped by section, each run described once in a legend, with signed
 * differences from the book (HTML in JupyterLab, aligned text elsewhere; one output).
 */
export function showFidelityTable(rows: FidelityRow[], options: { title?: string } = {}): void {
  const view = fidelityView(rows);
  publish({
    "text/html": fidelityHtml(view, options.title),
    "text/plain": fidelityText(view, options.title),
  });
}
