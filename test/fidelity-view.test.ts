import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  FidelityRow,
  SECTION_ENGLISH,
  fidelityHtml,
  fidelityTable,
  fidelityText,
  fidelityView,
  initBackend,
  signedDelta,
} from "advanced-neural-models";

const row = (over: Partial<FidelityRow>): FidelityRow => ({
  section: "池化层",
  claim: "c",
  book: "0.5000",
  reference: "0.5000",
  referenceRun: "computed now",
  yours: "-",
  yoursRun: "",
  note: "",
  ...over,
});

describe("the fidelity table as a reader takes it in", () => {
  it("signs the difference from the book with the value's decimals, for decimals only", () => {
    assert.strictEqual(signedDelta("0.9712", "0.9693"), "+0.0019");
    assert.strictEqual(signedDelta("0.9941", "0.9950"), "−0.0009");
    assert.strictEqual(signedDelta("0.0247", "0.0247"), "0.0000");
    assert.strictEqual(signedDelta("0.02540", "0.0247"), "+0.00070");
    assert.strictEqual(signedDelta("98×98", "98×98"), "");
    assert.strictEqual(signedDelta("1,120,074", "1,120,074"), "");
    assert.strictEqual(signedDelta("not run yet", "0.9950"), "");
  });

  it("names each run once (R for reference, Y for yours) and groups by section", () => {
    const a = "50 epoch(s); tensorflow; 2026-12-02";
    const b = "3 epoch(s); tensorflow; 2026-12-01";
    const mine = "cli, cli, 1 epoch(s); wasm; 2026-12-03";
    const view = fidelityView([
      row({ section: "二维离散卷积", claim: "size" }),
      row({ section: "池化层", claim: "p1", referenceRun: a, yours: "0.4000", yoursRun: mine }),
      row({ section: "二维离散卷积", claim: "again", referenceRun: b }),
      row({ section: "池化层", claim: "p2", referenceRun: a }),
    ]);
    assert.deepStrictEqual(
      view.sections.map((g) => [g.section, g.english, g.lines.map((l) => l.claim)]),
      [
        ["二维离散卷积", SECTION_ENGLISH["二维离散卷积"], ["size", "again"]],
        ["池化层", SECTION_ENGLISH["池化层"], ["p1", "p2"]],
      ],
    );
    assert.deepStrictEqual(view.legend, [
      { label: "R1", run: a },
      { label: "R2", run: b },
      { label: "Y1", run: mine },
    ]);
    const p1 = view.sections[1].lines[0];
    assert.deepStrictEqual(
      [p1["ref. run"], p1["Δ reference"], p1.yours, p1["Δ yours"], p1["your run"]],
      ["R1", "0.0000", "0.4000", "−0.1000", "Y1"],
    );
    assert.strictEqual(view.sections[0].lines[0]["ref. run"], "computed now");
    const html = fidelityHtml(view, "t");
    assert.strictEqual(html.split(a).length - 1, 1, "each description once in the HTML");
    assert.match(html, /<th colspan="9"[^>]*>池化层 · Pooling layers<\/th>/);
    const text = fidelityText(view, "t");
    assert.strictEqual(text.split(a).length - 1, 1, "each description once in the text");
    assert.match(text, /^R1: 50 epoch/m);
  });

  it("the chapter's table: every label stands for its row's run, every run is named once", async () => {
    await initBackend({ backend: "wasm", quiet: true });
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "nores-"));
    const rows = fidelityTable(empty);
    const view = fidelityView(rows);
    const byLabel = new Map(view.legend.map((e) => [e.label, e.run]));
    const lines = view.sections.flatMap((g) => g.lines);
    assert.strictEqual(lines.length, rows.length);
    for (const l of lines) {
      const run = rows.find((r) => r.claim === l.claim)!.referenceRun;
      assert.strictEqual(byLabel.get(l["ref. run"]) ?? l["ref. run"], run, l.claim);
    }
    const runs = new Set(rows.map((r) => r.referenceRun).filter((r) => r !== "computed now"));
    runs.delete("-");
    assert.strictEqual(view.legend.length, runs.size, "one legend entry per distinct run");
    for (const g of view.sections) assert.ok(g.english, `English title for ${g.section}`);
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
