import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildSite } from "advanced-neural-models/dist/site/build";
import { checkSite } from "advanced-neural-models/dist/site/check";
import { siteHref } from "advanced-neural-models/dist/site/render";
import { findChromium, NO_CHROMIUM } from "advanced-neural-models/dist/core/chromium";
import { COMPACT_DIR, notebookPaths } from "advanced-neural-models/dist/notebook/compact";

const root = path.join(__dirname, "..");

/** Set by .ci/run, which installs Chromium: then a missing browser fails instead of skipping. */
const REQUIRE_BROWSER = process.env.CH10_REQUIRE_BROWSER === "1";

describe("the static site (npm run site), built from the committed executed notebooks", function () {
  this.timeout(600_000);
  let site: string;
  let built: ReturnType<typeof buildSite>;

  before(() => {
    site = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-site-"));
    fs.rmSync(site, { recursive: true });
    built = buildSite(path.join(root, COMPACT_DIR), site);
  });
  after(() => fs.rmSync(site, { recursive: true, force: true }));

  it("has a page per notebook and solution, the index linking every chapter page", () => {
    const pages = built.pages.map((p) => p.href);
    for (const name of notebookPaths(path.join(root, "notebooks")))
      assert.ok(pages.includes(name.replace(/\.ipynb$/, ".html")), `page for ${name}`);
    const index = fs.readFileSync(path.join(site, "index.html"), "utf8");
    for (const p of built.pages.filter((p) => /^\d\d-/.test(p.href)))
      assert.ok(index.includes(`href="${p.href}"`), `index links ${p.href}`);
    assert.match(index, /卷积/, "the book's Chinese section titles");
    const nine = fs.readFileSync(path.join(site, "09-sunspots-lstm.html"), "utf8");
    assert.match(nine, /class="katex"/, "math typeset by KaTeX");
    assert.match(nine, /class="hljs-keyword"/, "code highlighted");
    assert.doesNotMatch(nine, /src="https?:/, "no script or image from the network");
  });

  it("rewrites the pack's links to its pages", () => {
    assert.strictEqual(siteHref("05-mnist-cnn.ipynb"), "05-mnist-cnn.html");
    assert.strictEqual(siteHref("../05-mnist-cnn.ipynb#top"), "../05-mnist-cnn.html#top");
    assert.strictEqual(siteHref("solutions/"), "solutions/index.html");
    assert.strictEqual(siteHref("COVERAGE.md"), "coverage.html");
    assert.strictEqual(siteHref("https://example.org/a.ipynb"), "https://example.org/a.ipynb");
  });

  it("refuses to replace a folder it did not make", () => {
    const mine = fs.mkdtempSync(path.join(os.tmpdir(), "ch10-precious-"));
    fs.writeFileSync(path.join(mine, "notes.txt"), "precious\n");
    assert.throws(() => buildSite(path.join(root, COMPACT_DIR), mine), /did not make/);
    assert.strictEqual(fs.readFileSync(path.join(mine, "notes.txt"), "utf8"), "precious\n");
    fs.rmSync(mine, { recursive: true, force: true });
  });

  it("loads in headless Chromium from file:// without console errors, every chart drawn", async function () {
    if (!findChromium()) {
      if (REQUIRE_BROWSER) assert.fail(NO_CHROMIUM);
      console.log(`      (skipped: ${NO_CHROMIUM})`);
      this.skip();
    }
    const shots = path.join(root, "results", "site-screenshots");
    const checks = await checkSite(site, shots);
    assert.strictEqual(checks.length, built.pages.length + 1, "every page, solutions/index too");
    for (const c of checks) {
      assert.deepStrictEqual(c.problems, [], `${c.page}: console`);
      assert.strictEqual(c.drawn, c.charts, `${c.page}: charts drawn`);
      assert.ok(fs.statSync(c.screenshot).size > 10_000, `${c.page}: screenshot`);
    }
    for (const page of ["05-mnist-cnn.html", "09-sunspots-lstm.html"])
      assert.ok(checks.find((c) => c.page === page)!.drawn >= 5, `${page}'s charts`);
  });
});
