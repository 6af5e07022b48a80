import { publish } from "./display";

/** One table row: column name to a number or text. */
export type Row = Record<string, number | string | boolean>;

function cellText(v: number | string | boolean): string {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Formats rows as an aligned plain-text table (columns from the first row). */
export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const cols = Object.keys(rows[0]);
  const cells = [cols, ...rows.map((r) => cols.map((c) => cellText(r[c] ?? "")))];
  const widths = cols.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((v, j) => v.padStart(widths[j])).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/**
 * Shows rows as a table: an HTML table in JupyterLab, aligned text elsewhere (one output, two MIME types).
 */
export function showTable(rows: Row[], options: { title?: string } = {}): void {
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const head = cols.map((c) => `<th>${escape(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${escape(cellText(r[c] ?? ""))}</td>`).join("")}</tr>`).join("");
  const caption = options.title ? `<caption>${escape(options.title)}</caption>` : "";
  publish({
    "text/html": `<table>${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`,
    "text/plain": (options.title ? `${options.title}\n` : "") + formatTable(rows),
  });
}
