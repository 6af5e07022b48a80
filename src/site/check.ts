import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import { NO_CHROMIUM, findChromium, launchChromium } from "../core/chromium";

/** What one page of the site did in the browser. */
export interface PageCheck {
  /** The page, relative to the site's folder. */
  page: string;
  /** Charts on the page, and how many vega-embed drew (an SVG inside). */
  charts: number;
  drawn: number;
  /** Console errors and warnings, and uncaught page errors, in order. */
  problems: string[];
  screenshot: string;
}

/** Every .html page under the site's folder, index first. */
export function sitePages(site: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== "assets") walk(p);
      else if (e.name.endsWith(".html")) found.push(path.relative(site, p));
    }
  };
  walk(site);
  return found.sort(
    (a, b) => Number(b === "index.html") - Number(a === "index.html") || a.localeCompare(b),
  );
}

/**
 * Opens every page of the built site from `file://` in headless Chromium, waits until its charts
 * are drawn (or 60 s), and saves a full-page screenshot of each under `shots`.
 * @throws when no Chromium is installed, saying how to get one.
 */
export async function checkSite(site: string, shots: string): Promise<PageCheck[]> {
  const chromium = findChromium();
  if (!chromium) throw new Error(NO_CHROMIUM);
  fs.mkdirSync(shots, { recursive: true });
  const browser = await launchChromium(chromium);
  const checks: PageCheck[] = [];
  try {
    for (const page of sitePages(site)) {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      tab.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning")
          problems.push(`${m.type()}: ${m.text()}`);
      });
      tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await tab.goto(pathToFileURL(path.join(site, page)).href, { waitUntil: "load" });
      const count = `document.querySelectorAll("figure.chart").length`;
      const drawnCount = `document.querySelectorAll("figure.chart.drawn .vega svg").length`;
      await tab
        .waitForFunction(`${drawnCount} === ${count}`, undefined, { timeout: 60_000 })
        .catch(() => undefined);
      const [charts, drawn] = await tab.evaluate<[number, number]>(`[${count}, ${drawnCount}]`);
      const screenshot = path.join(shots, page.replace(/[\\/]/g, "__").replace(/\.html$/, ".png"));
      await tab.screenshot({ path: screenshot, fullPage: true });
      await tab.close();
      checks.push({ page, charts, drawn, problems, screenshot });
    }
  } finally {
    await browser.close();
  }
  return checks;
}
