/**
 * Rows as aligned plain text, with no notebook display code (the command-line tools and the
 * GPU-check bundle use it without loading vega or the canvas).
 */

/** One table row: column name to a number or text. */
export type Row = Record<string, number | string | boolean>;

export function cellText(v: number | string | boolean): string {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

/** Formats rows as an aligned plain-text table (columns from the first row). */
export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const cols = Object.keys(rows[0]);
  const cells = [cols, ...rows.map((r) => cols.map((c) => cellText(r[c] ?? "")))];
  const widths = cols.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((v, j) => v.padStart(widths[j])).join("  ");
  return [
    line(cells[0]),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
  ].join("\n");
}
