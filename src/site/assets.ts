/** The site's own stylesheet and script (`assets/site.css`, `assets/site.js`). */

export const SITE_CSS = `
:root { --text: #1f2328; --muted: #59636e; --rule: #d1d9e0; --code: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--text); background: #fff;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 0 1.2rem 3rem; }
nav { max-width: 1100px; margin: 0 auto; padding: .7rem 1.2rem; display: flex; gap: 1rem;
  justify-content: space-between; font-size: .9rem; border-bottom: 1px solid var(--rule); }
nav.bottom { border-top: 1px solid var(--rule); border-bottom: 0; }
nav .chain { display: flex; gap: 1.5rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 1.8rem; margin: 1.4rem 0 .6rem; }
h2 { font-size: 1.35rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--rule); }
section.md table, div.html table { border-collapse: collapse; margin: .6rem 0; font-size: .88rem; }
section.md th, section.md td, div.html th, div.html td { border: 1px solid var(--rule);
  padding: .25rem .5rem; vertical-align: top; }
section.md th, div.html th { background: var(--code); }
div.html caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
div.html { overflow-x: auto; }
section.code { margin: 1rem 0; position: relative; }
.prompt { position: absolute; left: -3.4rem; top: .5rem; width: 3rem; text-align: right;
  color: var(--muted); font: .8rem ui-monospace, monospace; }
pre { margin: 0; overflow-x: auto; font: .84rem/1.45 ui-monospace, "SFMono-Regular", Menlo, monospace; }
pre.source { background: var(--code); border: 1px solid var(--rule); border-radius: 6px; padding: .6rem .8rem; }
pre.source code.hljs { background: transparent; padding: 0; }
.outputs { padding: .4rem 0 0 .8rem; border-left: 3px solid var(--rule); margin-top: .3rem; }
.outputs > * { margin: .3rem 0; }
pre.stderr { background: #fff8c5; }
pre.error { background: #ffebe9; color: #82071e; padding: .4rem; }
figure.chart { margin: .4rem 0; max-width: 100%; overflow-x: auto; }
figure.chart img.fallback, .outputs img { max-width: 100%; }
figure.chart.drawn img.fallback, figure.chart.drawn pre.fallback { display: none; }
.katex-display { overflow-x: auto; overflow-y: hidden; }
table.map td, table.map th { border: 1px solid var(--rule); padding: .3rem .6rem; }
table.map { border-collapse: collapse; }
@media (max-width: 1250px) { .prompt { display: none; } }
`;

export const SITE_JS = `"use strict";
// Draws each chart with vega-embed from the Vega-Lite spec stored beside it; the PNG the notebook
// rendered stays in view when that fails (or without JavaScript).
(function () {
  var figures = document.querySelectorAll("figure.chart[data-spec]");
  figures.forEach(function (figure) {
    var spec = JSON.parse(document.getElementById(figure.getAttribute("data-spec")).textContent);
    if (typeof vegaEmbed !== "function") return;
    vegaEmbed(figure.querySelector(".vega"), spec, { actions: false, renderer: "svg" })
      .then(function () { figure.classList.add("drawn"); })
      .catch(function (e) { console.warn("chart not drawn, PNG shown: " + e.message); });
  });
})();
`;
