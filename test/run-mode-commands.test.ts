import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

const cli = (name: string) => path.join(__dirname, "..", "dist", "cli", `${name}.js`);

describe("CH10_MODE on the commands that have no run modes", () => {
  for (const command of ["bench", "native", "gpu-check", "screenshots", "exercise-spread"]) {
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

describe("numbers and CH10_MODE on the other commands", () => {
  const run = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [cli(name), ...args], {
      encoding: "utf8",
      env: { ...process.env, CH10_MODE: "", ...env },
      timeout: 60_000,
    });

  it("bench and run-notebooks take decimal whole numbers within bounds only", () => {
    for (const [name, args, message] of [
      ["bench", ["--steps", "0x10"], /--steps needs a whole number from 3 to 100000 .*got "0x10"/],
      ["bench", ["--steps", "1e9"], /--steps needs a whole number .*got "1e9"/],
      ["bench", ["--rounds", "2.5"], /--rounds needs a whole number from 1 to 100 .*got "2\.5"/],
      ["bench", ["--budget", "-1"], /--budget needs a whole number from 1 to 86400 .*got "-1"/],
      ["bench", ["--threads", "1,0x2"], /--threads: "0x2" is neither a whole number .* nor auto/],
      ["run-notebooks", ["--timeout", "1e3"], /--timeout needs a whole number .*got "1e3"/],
    ] as const) {
      const r = run(name, [...args]);
      assert.strictEqual(r.status, 2, `${name} ${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.strictEqual(r.stdout, "");
    }
  });

  it("npm run lab refuses a bogus CH10_MODE before it registers kernels or starts JupyterLab", () => {
    const r = run("kernel", ["lab"], { CH10_MODE: "bogus" });
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /^lab: CH10_MODE="bogus" is not a run mode: expected smoke, default or full/,
    );
    assert.strictEqual(r.stdout, "");
  });
});
