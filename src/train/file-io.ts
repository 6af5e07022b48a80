import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";

/**
 * Names of the two files a saved Layers model consists of (the tfjs format: topology + weights).
 */
export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";

/** Bytes per element of each stored dtype (tfjs weight data; quantized weights use their own). */
const BYTES_PER_ELEMENT: Record<string, number> = {
  float32: 4,
  int32: 4,
  complex64: 8,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/**
 * The number of bytes that weight data described by `specs` (a tfjs weights manifest, as in
 * `model.json` or a checkpoint's `optimizer.json`) must hold, so that a truncated or padded file
 * can be refused before it is decoded.
 * @throws when a spec has no valid shape or a dtype whose size is not fixed (`string`).
 */
export function weightsByteLength(specs: tf.io.WeightsManifestEntry[]): number {
  return specs.reduce((total, spec) => {
    const valid =
      spec !== null &&
      typeof spec === "object" &&
      typeof spec.name === "string" &&
      Array.isArray(spec.shape) &&
      spec.shape.every((d) => Number.isInteger(d) && d >= 0);
    if (!valid) throw new Error(`weight ${JSON.stringify(spec)} has no valid name and shape`);
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const bytes = BYTES_PER_ELEMENT[dtype];
    if (bytes === undefined)
      throw new Error(`weight ${spec.name} has dtype ${JSON.stringify(dtype)}, not a fixed size`);
    return total + spec.shape.reduce((a, d) => a * d, 1) * bytes;
  }, 0);
}

/** True when `file` (resolved) lies inside the folder `root` (resolved), not `root` itself. */
const isInside = (root: string, file: string): boolean => {
  const rel = path.relative(root, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
};

/**
 * The files of `model.json`'s weights manifest, as paths under `dir`.
 * @throws naming `model.json` and the path when a manifest entry is malformed or a path is
 * absolute or leads outside `dir` (`../`): nothing outside the model's folder is ever read.
 */
function weightFiles(dir: string, jsonPath: string, manifest: unknown[]): string[] {
  const root = path.resolve(dir);
  return manifest.flatMap((group) => {
    const { paths, weights } = (group ?? {}) as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !Array.isArray(weights)) {
      throw new Error(
        `${jsonPath}: a weightsManifest entry needs "paths" and "weights" lists; ` +
          "the file is damaged",
      );
    }
    return paths.map((p) => {
      if (typeof p !== "string" || path.isAbsolute(p) || !isInside(root, path.resolve(root, p))) {
        throw new Error(
          `${jsonPath}: weight path ${JSON.stringify(p)} leads outside ${dir}; only files inside ` +
            "the model's folder are read (the file is damaged or was not written by this pack)",
        );
      }
      return path.join(dir, p);
    });
  });
}

/**
 * A tfjs IOHandler that saves a Layers model to a folder (`model.json` + `weights.bin`, the
 * standard tfjs format) and loads it back, in plain Node without tfjs-node's `file://` handler.
 * Use it as `model.save(fileHandler(dir))` and `tf.loadLayersModel(fileHandler(dir))`; the same
 * files load in any tfjs runtime. Loading reads only weight files inside `dir` (relative paths
 * of the manifest that resolve there, links included) and checks their total size against the
 * manifest before decoding; every error names the file.
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
      if (
        modelJson === null ||
        typeof modelJson !== "object" ||
        !modelJson.modelTopology ||
        !Array.isArray(modelJson.weightsManifest)
      ) {
        throw new Error(
          `${jsonPath}: not a tfjs Layers model (needs modelTopology and weightsManifest)`,
        );
      }
      const files = weightFiles(dir, jsonPath, modelJson.weightsManifest);
      const specs = modelJson.weightsManifest.flatMap((group) => group.weights);
      let expected: number;
      try {
        expected = weightsByteLength(specs);
      } catch (e) {
        throw new Error(`${jsonPath}: ${(e as Error).message}; the file is damaged`);
      }
      const realRoot = fs.realpathSync(dir);
      const buffers = files.map((file) => {
        try {
          const real = fs.realpathSync(file);
          if (!isInside(realRoot, real)) {
            throw new Error(
              `${file}: is a link to ${real}, outside ${dir}; only files inside the model's ` +
                "folder are read",
            );
          }
          const b = fs.readFileSync(real);
          return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (!code) throw e;
          throw new Error(`${file}: cannot read model weights (${code})`);
        }
      });
      const data = tf.io.concatenateArrayBuffers(buffers);
      if (data.byteLength !== expected) {
        const what = files.length === 1 ? files[0] : files.join(", ");
        throw new Error(
          `${what}: holds ${data.byteLength} bytes, ${MODEL_JSON} describes ${expected}`,
        );
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async () => [specs, data]);
    },
  };
}
