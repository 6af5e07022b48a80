import { publish } from "./display";
import { Row, cellText, formatTable } from "./text-table";

export { Row, formatTable };

/** Escapes text for an HTML table's cells. */
export const escapeHtmlText = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escape = escapeHtmlText;

/**
 * Shows rows as a table: an HTML table in JupyterLab,
 * aligned text elsewhere (one output, two MIME types).
 */
export function showTable(rows: Row[], options: { title?: string } = {}): void {
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const head = cols.map((c) => `<th>${escape(c)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${cols.map((c) => `<td>${escape(cellText(r[c] ?? ""))}</td>`).join("")}</tr>`)
    .join("");
  const caption = options.title ? `<caption>${escape(options.title)}</caption>` : "";
  publish({
    "text/html": `<table>${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`,
    "text/plain": (options.title ? `${options.title}\n` : "") + formatTable(rows),
  });
}
