import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

const cli = (name: string) => path.join(__dirname, "..", "dist", "cli", `${name}.js`);

describe("CH10_MODE on the commands that have no run modes", () => {
  for (const command of ["bench", "native", "gpu-check", "screenshots"]) {
    it(`npm run ${command} refuses CH10_MODE=smoke and a bogus value before any work`, () => {
      for (const [value, expected] of [
        [
          "smoke",
          new RegExp(
            `^${command}: CH10_MODE=smoke does not apply to npm run ${command}: .*Unset CH10_MODE`,
          ),
        ],
        [
          "bogus",
          new RegExp(
            `^${command}: CH10_MODE="bogus" is not a run mode: expected smoke, default or full`,
          ),
        ],
      ] as const) {
        const started = Date.now();
        const r = spawnSync(process.execPath, [cli(command)], {
          encoding: "utf8",
          env: { ...process.env, CH10_MODE: value },
          timeout: 60_000,
        });
        assert.strictEqual(
          r.status,
          2,
          `${command} with CH10_MODE=${value}: ${r.stdout}${r.stderr}`,
        );
        assert.match(r.stderr, expected);
        assert.strictEqual(r.stdout, "", "nothing ran");
        assert.ok(Date.now() - started < 30_000);
      }
    });
  }
});
