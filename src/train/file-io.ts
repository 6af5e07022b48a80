import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";

/** Names of the two files a saved Layers model consists of (the tfjs format: topology + weights). */
export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";

/**
 * A tfjs IOHandler that saves a Layers model to a folder (`model.json` + `weights.bin`, the
 * standard tfjs format) and loads it back, in plain Node without tfjs-node's `file://` handler.
 * Use it as `model.save(fileHandler(dir))` and `tf.loadLayersModel(fileHandler(dir))`; the same
 * files load in any tfjs runtime.
 */
export function fileHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      fs.mkdirSync(dir, { recursive: true });
      const weightData =
        artifacts.weightData instanceof ArrayBuffer || artifacts.weightData === undefined
          ? artifacts.weightData
          : tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer[]);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      fs.writeFileSync(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      fs.writeFileSync(path.join(dir, WEIGHTS_BIN), Buffer.from(weightData ?? new ArrayBuffer(0)));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = path.join(dir, MODEL_JSON);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
      } catch (e) {
        throw new Error(`${jsonPath}: cannot read a tfjs model (${(e as Error).message})`);
      }
      if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
        throw new Error(
          `${jsonPath}: not a tfjs Layers model (needs modelTopology and weightsManifest)`,
        );
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const buffers = manifest.flatMap((group) =>
          group.paths.map((p) => {
            const file = path.join(dir, p);
            try {
              const b = fs.readFileSync(file);
              return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
            } catch (e) {
              throw new Error(
                `${file}: cannot read model weights (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
              );
            }
          }),
        );
        const data = tf.io.concatenateArrayBuffers(buffers);
        const expected = specs.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1) * 4, 0);
        if (data.byteLength !== expected) {
          throw new Error(
            `${path.join(dir, WEIGHTS_BIN)}: holds ${data.byteLength} bytes, ${MODEL_JSON} describes ${expected}`,
          );
        }
        return [specs, data];
      });
    },
  };
}
