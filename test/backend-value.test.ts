import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  SUNSPOTS_BOOK,
  initBackend,
  readRecord,
  runSunspotsExperiment,
  train,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

describe("the backend initBackend() chose, passed on as a value", function () {
  this.timeout(120_000);

  it("train() takes it, and refuses one that tfjs is no longer running", async () => {
    const info = await initBackend({ backend: TEST_BACKEND, quiet: true });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
    const [x, y] = [tf.ones([8, 2]), tf.ones([8, 1])];
    const ok = await train(model, x, y, {
      epochs: 1,
      batchSize: 8,
      progress: false,
      backend: info,
    });
    assert.strictEqual(ok.history.loss.length, 1);
    const other = info.name === "cpu" ? "wasm" : "cpu";
    await assert.rejects(
      train(model, x, y, {
        epochs: 1,
        batchSize: 8,
        progress: false,
        backend: { ...info, name: other },
      }),
      new RegExp(`the backend passed in is ${other}, but tfjs is running ${info.name}`),
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  it("an experiment records the line of the backend it was given", async () => {
    const info = await initBackend({ backend: TEST_BACKEND, quiet: true });
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "backend-value-"));
    try {
      const line = `${info.line} (as passed in)`;
      await runSunspotsExperiment(
        { ...SUNSPOTS_BOOK, epochs: 1 },
        { out, progress: false, charts: false, backend: { ...info, line } },
      );
      assert.strictEqual(readRecord(out)!.backend, line);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
