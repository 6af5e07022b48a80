import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../core/project";
import { Notebook, readNotebook } from "../notebook/nbformat";
import { escapeHtml, markdownRenderer, notebookTitle, renderNotebook } from "./render";
import { SITE_CSS, SITE_JS } from "./assets";

/**
 * The static site of the executed chapter (`npm run site`): an index with the chapter map, one
 * page per notebook and per solution notebook, the coverage list, and the scripts and styles they
 * need copied beside them, so that it opens from `file://` and from any static host with no network.
 */

/** The file that marks a folder as a site this builder made (and may therefore replace). */
export const SITE_MARK = ".ch10-site";

/** One page of the site. */
export interface SitePage {
  /** Path of the page in the site, e.g. `05-mnist-cnn.html`, `solutions/05-...-solutions.html`. */
  href: string;
  title: string;
  /** The notebook it was made from (undefined for the index and the coverage page). */
  source?: string;
}

/** What {@link buildSite} made. */
export interface BuiltSite {
  out: string;
  pages: SitePage[];
  /** Total size of the site in bytes. */
  bytes: number;
}

/** Files copied from installed packages into `assets/`: [package file, name in assets]. */
const VENDOR: [string, string][] = [
  ["vega/build/vega.min.js", "vega.min.js"],
  ["vega-lite/build/vega-lite.min.js", "vega-lite.min.js"],
  ["vega-embed/build/vega-embed.min.js", "vega-embed.min.js"],
  ["katex/dist/katex.min.css", "katex.min.css"],
  ["highlight.js/styles/github.min.css", "hljs.min.css"],
];

/** The executed notebooks of `from`: the chapter's in name order, then the solutions. */
export function executedNotebooks(from: string): { main: string[]; solutions: string[] } {
  const list = (dir: string) =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(".ipynb"))
          .sort()
          .map((f) => path.join(dir, f))
      : [];
  return { main: list(from), solutions: list(path.join(from, "solutions")) };
}

/** Splits "01 · Convolution — 卷积" into its English and its Chinese part. */
export function splitTitle(title: string): { english: string; chinese: string } {
  const [english, chinese = ""] = title.split(" — ");
  return { english: english.trim(), chinese: chinese.trim() };
}

/** A whole HTML page around `body`; `root` leads from the page to the site's root ("", "../"). */
function page(title: string, body: string, root: string, nav: string): string {
  const asset = (f: string) => `${root}assets/${f}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${asset("katex.min.css")}">
<link rel="stylesheet" href="${asset("hljs.min.css")}">
<link rel="stylesheet" href="${asset("site.css")}">
</head>
<body>
<nav class="top">${nav}</nav>
<main>
${body}
</main>
<nav class="bottom">${nav}</nav>
<script src="${asset("vega.min.js")}"></script>
<script src="${asset("vega-lite.min.js")}"></script>
<script src="${asset("vega-embed.min.js")}"></script>
<script src="${asset("site.js")}"></script>
</body>
</html>
`;
}

/** Links to the index and to the previous and next page of a chain. */
function navigation(root: string, prev?: SitePage, next?: SitePage, extra = ""): string {
  const link = (p: SitePage | undefined, label: string) =>
    p ? `<a href="${root}${p.href}">${label} ${escapeHtml(p.title)}</a>` : "<span></span>";
  return (
    `<a href="${root}index.html">Index</a>${extra}` +
    `<span class="chain">${link(prev, "←")}${link(next, "→")}</span>`
  );
}

/** Where a notebook's page goes: `NN-name.html`, or under `solutions/`. */
function hrefOf(file: string, solution: boolean): string {
  const name = path.basename(file).replace(/\.ipynb$/, ".html");
  return solution ? `solutions/${name}` : name;
}

/**
 * Builds the site from the executed notebooks in `from` into `out` (replacing a site built there
 * before; refusing a folder that holds anything else).
 * @throws when `from` has no executed notebook, or `out` is not this builder's.
 */
export function buildSite(from: string, out: string): BuiltSite {
  const { main, solutions } = executedNotebooks(from);
  if (main.length === 0)
    throw new Error(`${from}: no executed notebooks (.ipynb) to build the site from`);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new Error(`${out} is a file, not a folder`);
    const own = fs.existsSync(path.join(out, SITE_MARK));
    if (!own && fs.readdirSync(out).length > 0)
      throw new Error(
        `${out} holds files this builder did not make (no ${SITE_MARK}): ` +
          `name an empty or new folder with --out`,
      );
    fs.rmSync(out, { recursive: true, force: true });
  }
  fs.mkdirSync(path.join(out, "solutions"), { recursive: true });
  fs.writeFileSync(path.join(out, SITE_MARK), "made by npm run site\n");
  copyAssets(path.join(out, "assets"));
  const md = markdownRenderer();
  const read = (file: string): [Notebook, string] => {
    const nb = readNotebook(file);
    return [nb, notebookTitle(nb, path.basename(file, ".ipynb"))];
  };
  const chapter = main.map((file) => ({ file, nb: read(file) }));
  const solved = solutions.map((file) => ({ file, nb: read(file) }));
  const pages: SitePage[] = [];
  const chain = (items: typeof chapter, solution: boolean) => {
    const own = items.map(({ file, nb }) => ({
      href: hrefOf(file, solution),
      title: nb[1],
      source: file,
    }));
    own.forEach((p, k) => {
      const root = solution ? "../" : "";
      const extra = solution
        ? ` · <a href="../${p.href.replace(/^solutions\//, "").replace("-solutions", "")}">the notebook</a>`
        : "";
      const nav = navigation(root, own[k - 1], own[k + 1], extra);
      const body = renderNotebook(items[k].nb[0], md);
      fs.writeFileSync(path.join(out, p.href), page(p.title, body, root, nav));
    });
    pages.push(...own);
    return own;
  };
  const chapterPages = chain(chapter, false);
  const solutionPages = chain(solved, true);
  const coverage = path.join(ROOT, "notebooks", "COVERAGE.md");
  if (fs.existsSync(coverage)) {
    const body = `<section class="md">${md.render(fs.readFileSync(coverage, "utf8"))}</section>`;
    const p = { href: "coverage.html", title: "What the chapter says and where the pack shows it" };
    fs.writeFileSync(path.join(out, p.href), page(p.title, body, "", navigation("")));
    pages.push(p);
  }
  const index = { href: "index.html", title: "Advanced Neural Models — 高级神经网络模型" };
  fs.writeFileSync(
    path.join(out, "index.html"),
    page(index.title, indexBody(chapterPages, solutionPages), "", navigation("")),
  );
  fs.writeFileSync(
    path.join(out, "solutions", "index.html"),
    page(
      "Solutions",
      `<h1>Solutions</h1>${pageList(solutionPages, "../")}`,
      "../",
      navigation("../"),
    ),
  );
  pages.unshift(index);
  return { out, pages, bytes: folderBytes(out) };
}

/** The chapter map: each notebook's English and Chinese title, linked. */
function indexBody(chapter: SitePage[], solutions: SitePage[]): string {
  const rows = chapter
    .map((p) => {
      const { english, chinese } = splitTitle(p.title);
      return `<tr><td><a href="${p.href}">${escapeHtml(english)}</a></td><td>${escapeHtml(chinese)}</td></tr>`;
    })
    .join("");
  return `<h1>Advanced Neural Models · 高级神经网络模型</h1>
<p>Chapter 10 of Giuseppe Bonaccorso's <i>Mastering Machine Learning Algorithms</i> as executed
TypeScript notebooks: every figure drawn, every number of the book reproduced or corrected. These
pages show the notebooks as they ran; to change a cell and run it yourself, clone the pack and
open them in JupyterLab (<code>npm run lab</code>).</p>
<table class="map"><thead><tr><th>notebook</th><th>the book's section (中文)</th></tr></thead>
<tbody>${rows}</tbody></table>
<h2>Solutions to the exercises</h2>
${pageList(solutions, "")}
<p><a href="coverage.html">What the chapter says and where the pack shows it</a></p>`;
}

function pageList(pages: SitePage[], root: string): string {
  const items = pages.map((p) => `<li><a href="${root}${p.href}">${escapeHtml(p.title)}</a></li>`);
  return `<ul>${items.join("")}</ul>`;
}

/** Copies the vendored scripts, styles and KaTeX's fonts, and writes the site's own. */
function copyAssets(dir: string): void {
  fs.mkdirSync(path.join(dir, "fonts"), { recursive: true });
  const modules = path.join(ROOT, "node_modules");
  for (const [from, to] of VENDOR) fs.copyFileSync(path.join(modules, from), path.join(dir, to));
  const fonts = path.join(modules, "katex", "dist", "fonts");
  for (const f of fs.readdirSync(fonts).filter((f) => f.endsWith(".woff2")))
    fs.copyFileSync(path.join(fonts, f), path.join(dir, "fonts", f));
  fs.writeFileSync(path.join(dir, "site.css"), SITE_CSS);
  fs.writeFileSync(path.join(dir, "site.js"), SITE_JS);
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : fs.statSync(p).size;
  }
  return n;
}
