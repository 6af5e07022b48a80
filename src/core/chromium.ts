import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/**
 * Headless Chromium for the pack's looks at pages as a reader sees them (`npm run screenshots`,
 * the site's browser test): Debian's `chromium` (or `CHROMIUM`) driven by `playwright-core`.
 */

/** The parts of playwright's Page that the pack uses. */
export interface BrowserPage {
  goto(url: string, o?: object): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  waitForFunction(fn: string, arg?: unknown, o?: object): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  screenshot(o: object): Promise<unknown>;
  on(event: "console", listener: (m: { type(): string; text(): string }) => void): void;
  on(event: "pageerror", listener: (e: Error) => void): void;
  close(): Promise<void>;
}

/** A launched browser. */
export interface Browser {
  newPage(o: object): Promise<BrowserPage>;
  close(): Promise<void>;
}

/** The Chromium to drive: `CHROMIUM`, or the first of chromium, chromium-browser, google-chrome. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"].filter(
    (c): c is string => Boolean(c),
  );
  for (const c of candidates) {
    const found = path.isAbsolute(c)
      ? fs.existsSync(c)
        ? c
        : undefined
      : spawnSync("which", [c], { encoding: "utf8" }).stdout.trim();
    if (found) return found;
  }
  return undefined;
}

/** What to say when {@link findChromium} finds none. */
export const NO_CHROMIUM =
  "no Chromium found (CHROMIUM, chromium, chromium-browser, google-chrome); " +
  "install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM";

/** Whether a font with Chinese glyphs is installed (the book's section titles), when fc-list says. */
export function hasCjkFont(): boolean {
  const r = spawnSync("fc-list", [":lang=zh", "family"], { encoding: "utf8" });
  return !(r.status === 0 && r.stdout.trim() === "");
}

/**
 * Launches `chromium` headless through playwright-core, with the flags a machine without network
 * needs (no sandbox for root, no background or update traffic).
 * @throws when playwright-core is not installed (a development dependency).
 */
export async function launchChromium(chromium: string): Promise<Browser> {
  let playwright: { chromium: { launch(o: object): Promise<Browser> } };
  try {
    playwright = require("playwright-core");
  } catch {
    throw new Error(
      `playwright-core is missing (a development dependency): run "npm ci" (without --omit=dev)`,
    );
  }
  return playwright.chromium.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
