import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadSunspots } from "advanced-neural-models";

const root = path.join(__dirname, "..");
const git = (args: string[], cwd = root) => spawnSync("git", args, { cwd, encoding: "utf8" });

describe(".gitattributes keeps data files byte-exact", () => {
  it("a checkout with core.autocrlf=true still passes the sunspots checksum", function () {
    this.timeout(60_000);
    if (git(["rev-parse", "--is-inside-work-tree"]).stdout.trim() !== "true") this.skip();
    const head = git(["rev-parse", "HEAD"]).stdout.trim();
    const committed = git(["cat-file", "-e", `${head}:.gitattributes`]).status === 0;
    if (!committed) this.skip(); // a work tree whose .gitattributes is not committed yet
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crlf-"));
    try {
      const clone = git(
        ["clone", "-q", "--no-checkout", "-c", "core.autocrlf=true", root, dir],
        os.tmpdir(),
      );
      assert.strictEqual(clone.status, 0, clone.stderr);
      const files = ["data/sunspots.csv", "README.md", "reference/mnist/results.json"];
      // as a full checkout does, the attributes come first (git reads them from the work tree)
      assert.strictEqual(git(["checkout", "-q", head, "--", ".gitattributes"], dir).status, 0);
      const co = git(["checkout", "-q", head, "--", ...files], dir);
      assert.strictEqual(co.status, 0, co.stderr);
      // the control: a text file without the attribute does get CRLF in such a checkout
      assert.ok(fs.readFileSync(path.join(dir, "README.md"), "utf8").includes("\r\n"));
      for (const f of ["data/sunspots.csv", "reference/mnist/results.json"]) {
        const bytes = fs.readFileSync(path.join(dir, f));
        assert.ok(
          bytes.equals(fs.readFileSync(path.join(root, f))),
          `${f} changed in the checkout`,
        );
      }
      const series = loadSunspots(path.join(dir, "data/sunspots.csv"), { verify: true });
      assert.ok(series.values.length > 2000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
