import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readRecord } from "advanced-neural-models";

const cli = path.join(__dirname, "..", "dist", "cli", "experiment.js");
const quick = ["mnist", "--epochs", "1", "--train-samples", "64", "--backend", "wasm"];
const experiment = (args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    env: { ...process.env, CH10_MODE: "" },
  });

describe("npm run experiment: chart files in --out", function () {
  this.timeout(300_000);

  it("a user's history.png is refused before any work, kept, and replaced only with --force", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "charts-"));
    try {
      const mine = path.join(out, "history.png");
      fs.writeFileSync(mine, "my own picture");
      const refused = experiment([...quick, "--out", out]);
      assert.strictEqual(refused.status, 1, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /holds history\.png, which the pack did not write; .*replace them \(--force\)/,
      );
      assert.doesNotMatch(refused.stdout, /backend:|epoch \d+\/\d+/, "refused before any work");
      assert.strictEqual(fs.readFileSync(mine, "utf8"), "my own picture");
      assert.deepStrictEqual(fs.readdirSync(out), ["history.png"], "nothing else written");

      const forced = experiment([...quick, "--out", out, "--force"]);
      assert.strictEqual(forced.status, 0, forced.stderr);
      assert.notStrictEqual(fs.readFileSync(mine, "utf8"), "my own picture");
      assert.deepStrictEqual(readRecord(out)!.charts, ["history", "confusion"]);
      // the pack's own charts (listed in its results.json) do not count as the user's
      const again = experiment([...quick, "--out", out, "--epochs", "2", "--resume"]);
      assert.strictEqual(again.status, 0, again.stderr);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
