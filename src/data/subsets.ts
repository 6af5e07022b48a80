import { seededRandom } from "../core/random";
import { ImageDataset } from "./image-dataset";

/**
 * A new dataset holding only the images of `classes`, relabelled 0..classes.length−1 in that
 * order (e.g. digits 5–9 become classes 0–4). With `perClass`, a seeded random choice of that
 * many images of each class (the few-label setting of transfer learning), in shuffled order.
 * @throws when a class has fewer than `perClass` images.
 */
export function selectClasses(
  ds: ImageDataset,
  classes: number[],
  options: { perClass?: number; seed?: number } = {},
): ImageDataset {
  const rand = seededRandom(options.seed ?? 1);
  const byClass = classes.map(() => [] as number[]);
  for (let i = 0; i < ds.count; i++) {
    const c = classes.indexOf(ds.labels[i]);
    if (c >= 0) byClass[c].push(i);
  }
  let chosen: number[];
  if (options.perClass === undefined) chosen = byClass.flat().sort((a, b) => a - b);
  else {
    const k = options.perClass;
    chosen = byClass.flatMap((idx, c) => {
      if (idx.length < k)
        throw new Error(
          `selectClasses: class ${classes[c]} of ${ds.source} ` +
            `has ${idx.length} images, fewer than ${k}`,
        );
      const copy = [...idx];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [copy[i], copy[j]] = [copy[j], copy[i]];
      }
      return copy.slice(0, k);
    });
    for (let i = chosen.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [chosen[i], chosen[j]] = [chosen[j], chosen[i]];
    }
  }
  const px = ds.rows * ds.cols;
  const images = new Uint8Array(chosen.length * px),
    labels = new Uint8Array(chosen.length);
  chosen.forEach((src, i) => {
    images.set(ds.images.subarray(src * px, (src + 1) * px), i * px);
    labels[i] = classes.indexOf(ds.labels[src]);
  });
  const desc = options.perClass === undefined ? "all images" : `${options.perClass} per class`;
  return {
    images,
    labels,
    count: chosen.length,
    rows: ds.rows,
    cols: ds.cols,
    source: `${ds.source}, classes ${classes.join(",")} (${desc})`,
  };
}
