#!/usr/bin/env node
import { spawnSync } from "child_process";
import * as path from "path";
import { ROOT } from "../core/project";
import { buildSite, executedNotebooks } from "../site/build";
import { checkSite } from "../site/check";
import { refuseRunMode } from "./no-run-mode";

const USAGE = `Usage: npm run site -- [--from DIR] [--out DIR]

Builds the executed chapter as a static site: an index with the chapter map, one page per
notebook and per solution (prose with its math typeset, code highlighted, charts drawn with
vega-embed, PNG as the fallback), opening from file:// or any static host without network.

  --from DIR   the executed notebooks (default: results/notebooks, from npm run notebooks; when
               it has none they are executed first, about 20 minutes on 2 cores);
               reference/notebooks holds the committed compact copies
  --out DIR    where the site goes (default: results/site; a site built there before is replaced,
               a folder holding anything else is refused)
  --check      then open every page in headless Chromium (Debian's chromium, or CHROMIUM): fail on
               a console error or a chart not drawn; full-page screenshots go to DIR-screenshots/`;

function fail(message: string): never {
  console.error(`site: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parse(argv: string[]): {
  from: string;
  out: string;
  fromGiven: boolean;
  check: boolean;
} {
  const o = {
    check: false,
    from: path.join(ROOT, "results", "notebooks"),
    out: path.join(ROOT, "results", "site"),
    fromGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`${a} needs a value`);
    if (a === "--from") {
      o.from = path.resolve(value());
      o.fromGiven = true;
    } else if (a === "--out") o.out = path.resolve(value());
    else if (a === "--check") o.check = true;
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return o;
}

async function main(): Promise<void> {
  refuseRunMode("site", "it builds from the executed notebooks, whatever mode made them");
  const o = parse(process.argv.slice(2));
  if (executedNotebooks(o.from).main.length === 0) {
    if (o.fromGiven) fail(`--from ${o.from}: no executed notebooks (.ipynb) there`);
    console.log(
      `site: ${path.relative(ROOT, o.from)}/ has no executed notebooks: running them first ` +
        `(npm run notebooks, about 20 minutes on 2 cores; --from reference/notebooks builds ` +
        `from the committed copies instead)`,
    );
    const run = spawnSync(
      process.execPath,
      [path.join(__dirname, "run-notebooks.js"), "--out", o.from],
      { stdio: "inherit" },
    );
    if (run.status !== 0) {
      console.error(`site: the notebooks did not all run (exit ${run.status}); no site built`);
      process.exit(1);
    }
  }
  try {
    const site = buildSite(o.from, o.out);
    const mb = (site.bytes / 1e6).toFixed(1);
    console.log(
      `site: ${site.pages.length} pages (${mb} MB) in ${path.relative(process.cwd(), o.out) || "."}/; ` +
        `open ${path.join(o.out, "index.html")}`,
    );
  } catch (e) {
    console.error(`site: ${(e as Error).message}`);
    process.exit(1);
  }
  if (!o.check) return;
  const shots = `${o.out}-screenshots`;
  let checks;
  try {
    checks = await checkSite(o.out, shots);
  } catch (e) {
    console.error(`site: --check: ${(e as Error).message}`);
    process.exit(1);
  }
  let bad = 0;
  for (const c of checks) {
    const ok = c.problems.length === 0 && c.drawn === c.charts;
    if (!ok) bad++;
    console.log(
      `${c.page.padEnd(60)} ${c.drawn}/${c.charts} charts drawn  ${ok ? "ok" : "FAILED"}`,
    );
    for (const p of c.problems) console.log(`    ${p}`);
  }
  console.log(`site: screenshots in ${path.relative(process.cwd(), shots) || shots}/`);
  process.exit(bad ? 1 : 0);
}

void main();
