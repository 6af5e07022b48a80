import MarkdownIt from "markdown-it";
import katex from "katex";
import hljs from "highlight.js/lib/core";
import typescript from "highlight.js/lib/languages/typescript";
import { Cell, Notebook, Output, cellSource } from "../notebook/nbformat";

/**
 * One executed notebook as the body of a static HTML page: Markdown with its math typeset by KaTeX,
 * code highlighted by highlight.js, and each output as a reader of JupyterLab sees it (charts as
 * Vega-Lite for vega-embed with their PNG as the fallback, HTML tables, text).
 */

hljs.registerLanguage("typescript", typescript);

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * A markdown-it rule for `$...$` (inline) and `$$...$$` (display) math, typeset by KaTeX. Inline
 * math must not start or end with a space (so "$5 and $6" stays text); code spans are parsed
 * first, so a `$` inside backticks is never math.
 */
type Markdown = MarkdownIt.MarkdownIt;

function mathPlugin(md: Markdown): void {
  md.inline.ruler.after("escape", "math", (state: MarkdownIt.StateInline, silent: boolean) => {
    const src = state.src;
    const start = state.pos;
    if (src[start] !== "$") return false;
    const display = src[start + 1] === "$";
    const open = display ? 2 : 1;
    let end = start + open;
    for (;;) {
      end = src.indexOf(display ? "$$" : "$", end);
      if (end < 0) return false;
      if (src[end - 1] !== "\\") break;
      end++;
    }
    const tex = src.slice(start + open, end);
    if (!tex.trim() || (!display && (/^\s/.test(tex) || /\s$/.test(tex)))) return false;
    if (!silent) {
      const token = state.push("math", "", 0);
      token.content = tex;
      token.meta = { display };
    }
    state.pos = end + open;
    return true;
  });
  md.renderer.rules.math = (tokens: MarkdownIt.Token[], i: number) =>
    katex.renderToString(tokens[i].content, {
      displayMode: Boolean(tokens[i].meta?.display),
      throwOnError: false,
      output: "html",
    });
}

/** Where a link to another notebook or Markdown file of the pack points on the site. */
export function siteHref(href: string): string {
  if (/^[a-z]+:|^#/i.test(href)) return href;
  const [file, hash] = href.split("#");
  let target = file;
  if (file.endsWith(".ipynb")) target = file.replace(/\.ipynb$/, ".html");
  else if (file === "solutions/" || file === "solutions") target = "solutions/index.html";
  else if (/(^|\/)COVERAGE\.md$/.test(file))
    target = file.replace(/COVERAGE\.md$/, "coverage.html");
  return hash === undefined ? target : `${target}#${hash}`;
}

/** The Markdown renderer of the site (tables, math, the pack's links rewritten). */
export function markdownRenderer(): Markdown {
  const md = new MarkdownIt({ html: true, linkify: false, typographer: false });
  md.use(mathPlugin);
  const link = md.renderer.rules.link_open;
  md.renderer.rules.link_open = (tokens, i, options, env, self) => {
    const href = tokens[i].attrGet("href");
    if (typeof href === "string") tokens[i].attrSet("href", siteHref(href));
    return link ? link(tokens, i, options, env, self) : self.renderToken(tokens, i, options);
  };
  return md;
}

/** TypeScript source, highlighted. */
export function highlightCode(code: string): string {
  return hljs.highlight(code, { language: "typescript", ignoreIllegals: true }).value;
}

const ANSI = /\u001b\[[0-9;]*m/g;
const text = (t: string | string[] | undefined) => ([] as string[]).concat(t ?? []).join("");

/** The page's counter of charts, so each spec gets its own element id. */
export interface RenderState {
  charts: number;
}

/** One output of a code cell as HTML. */
export function renderOutput(o: Output, state: RenderState): string {
  if (o.output_type === "stream") {
    const cls = o.name === "stderr" ? "stream stderr" : "stream";
    return `<pre class="${cls}">${escapeHtml(text(o.text).replace(ANSI, ""))}</pre>`;
  }
  if (o.output_type === "error") {
    const lines = [`${o.ename}: ${o.evalue}`, ...(o.traceback ?? []).slice(1)];
    return `<pre class="error">${escapeHtml(lines.join("\n").replace(ANSI, ""))}</pre>`;
  }
  const data = o.data as Record<string, unknown>;
  const alt = typeof data["text/plain"] === "string" ? text(data["text/plain"] as string) : "";
  const png = data["image/png"] ? `data:image/png;base64,${text(data["image/png"] as string)}` : "";
  const spec = data["application/vnd.vegalite.v5+json"];
  if (spec) {
    const id = `chart-${++state.charts}`;
    const json = JSON.stringify(spec).replace(/</g, "\\u003c");
    const fallback = png
      ? `<img class="fallback" src="${png}" alt="${escapeHtml(alt)}">`
      : `<pre class="fallback">${escapeHtml(alt)}</pre>`;
    return (
      `<figure class="chart" data-spec="${id}"><div class="vega"></div>${fallback}` +
      `<script type="application/json" id="${id}">${json}</script></figure>`
    );
  }
  if (typeof data["text/html"] === "string" || Array.isArray(data["text/html"]))
    return `<div class="html">${text(data["text/html"] as string)}</div>`;
  if (png) return `<img src="${png}" alt="${escapeHtml(alt)}">`;
  if (data["image/svg+xml"])
    return `<div class="svg">${text(data["image/svg+xml"] as string)}</div>`;
  return `<pre class="result">${escapeHtml(alt.replace(ANSI, ""))}</pre>`;
}

/** One cell as HTML. */
export function renderCell(cell: Cell, md: Markdown, state: RenderState): string {
  const source = cellSource(cell);
  if (cell.cell_type === "markdown") return `<section class="md">${md.render(source)}</section>`;
  if (cell.cell_type !== "code") return "";
  const count = String(cell.execution_count ?? " ");
  const outputs = (cell.outputs ?? []).map((o) => renderOutput(o, state)).join("");
  return (
    `<section class="code"><div class="prompt">[${count}]</div>` +
    `<pre class="source"><code class="hljs language-typescript">${highlightCode(source)}</code></pre>` +
    (outputs ? `<div class="outputs">${outputs}</div>` : "") +
    `</section>`
  );
}

/** The notebook's title: its first heading, without the `#`. */
export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== "markdown") continue;
    const m = /^#\s+(.+)$/m.exec(cellSource(c));
    if (m) return m[1].trim();
  }
  return fallback;
}

/** Every cell of the notebook as HTML. */
export function renderNotebook(nb: Notebook, md: Markdown): string {
  const state: RenderState = { charts: 0 };
  return nb.cells.map((c) => renderCell(c, md, state)).join("\n");
}
