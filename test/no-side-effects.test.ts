import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

const root = path.join(__dirname, "..");

/**
 * Run in a fresh Node process: what tfjs, zeromq and Node look like before and after importing
 * the package and every library module under dist/ (the command-line entry points and the
 * worker thread's entry are programs, not modules to import), and after initBackend().
 */
const probe = `
const fs = require("fs"), path = require("path");
const tf = require("@tensorflow/tfjs");
const zmq = require("zeromq");
const proto = tf.LayersModel.prototype;
const look = () => ({
  fit: proto.fit, fitDataset: proto.fitDataset, trainOnBatch: proto.trainOnBatch,
  fusedConv2d: tf.fused.conv2d, dealerSend: zmq.Dealer.prototype.send,
  sigint: process.listenerCount("SIGINT"), backend: tf.engine().backendName,
});
const same = (a, b) => Object.keys(a).filter((k) => a[k] !== b[k]);
const before = look();
require("advanced-neural-models");
const dist = path.join(${JSON.stringify(root)}, "dist");
const modules = [];
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
  const p = path.join(d, e.name);
  if (e.isDirectory()) { if (e.name !== "cli") walk(p); }
  else if (p.endsWith(".js") && !p.endsWith(path.join("parallel", "worker.js"))) modules.push(p);
});
walk(dist);
modules.forEach((m) => require(m));
const afterImport = same(before, look());
require("advanced-neural-models").initBackend({ backend: "cpu", quiet: true }).then(() => {
  const afterInit = same(before, look());
  console.log(JSON.stringify({ modules: modules.length, afterImport, afterInit }));
});
`;

describe("importing the package changes nothing in tfjs, zeromq or Node", () => {
  it("a plain Node script keeps tfjs's fit, zeromq's send and the SIGINT listeners", function () {
    this.timeout(60_000);
    const r = spawnSync(process.execPath, ["-e", probe], { cwd: root, encoding: "utf8" });
    assert.strictEqual(r.status, 0, r.stderr);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
      modules: number;
      afterImport: string[];
      afterInit: string[];
    };
    assert.ok(seen.modules > 60, `imported ${seen.modules} modules`);
    assert.deepStrictEqual(seen.afterImport, [], "changed by importing");
    // initBackend chooses a backend and installs the fallback kernels (tf.fused.conv2d for
    // dilated convolutions); outside a kernel it leaves fit, zeromq and the signals alone
    assert.deepStrictEqual(seen.afterInit, ["fusedConv2d", "backend"], "changed by initBackend");
  });
});
