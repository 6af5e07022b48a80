import * as tf from "@tensorflow/tfjs";
import { seededRandom } from "../core/random";
import { AffineParams, IDENTITY, kerasTransformMatrix, toTfTransform } from "./affine";

/** Options of {@link ImageDataGenerator}: Keras's ImageDataGenerator arguments in camelCase. */
export interface ImageDataGeneratorOptions {
  /** Multiply pixel values by this first (the book: 1/255). */
  rescale?: number;
  /** Subtract each image's own mean. */
  samplewiseCenter?: boolean;
  /** Divide each image by its own standard deviation (+1e-7). */
  samplewiseStdNormalization?: boolean;
  /** Mirror left-right with probability 1/2. */
  horizontalFlip?: boolean;
  /** Rotation drawn uniformly in ±range degrees. */
  rotationRange?: number;
  /**
   * Shear angle drawn uniformly in ±range, in **degrees** as in Keras ≥ 2.2
   * (keras_preprocessing). Keras 2.1, which the book used, read it in radians: the book's
   * `shear_range=np.pi/12` meant 15°, but means 0.26° in later Keras. Pass 15 to get the book's
   * intent.
   */
  shearRange?: number;
  /** Zoom factors drawn uniformly in [1 - z, 1 + z] per axis (or the given [lo, hi]). */
  zoomRange?: number | [number, number];
  /** Horizontal shift, as a fraction of the width (< 1) or in pixels (>= 1), drawn in ±range. */
  widthShiftRange?: number;
  /** Vertical shift, likewise. */
  heightShiftRange?: number;
  /** How points outside the image are filled (Keras default `nearest`). */
  fillMode?: "nearest" | "constant" | "reflect" | "wrap";
  /** Fill value for `constant`. */
  cval?: number;
  /** Seed of the random draws (the book: 1000). */
  seed?: number;
}

/**
 * A Keras-like ImageDataGenerator for tfjs: random affine augmentation (rotation, shifts, shear,
 * zoom with bilinear sampling through `tf.image.transform`, same matrices and order as Keras),
 * horizontal flips, then rescaling and per-sample standardisation, all seeded. Differences from
 * Keras: random numbers come from this package's seeded generator, not numpy's; sampling is
 * tfjs's bilinear interpolation (equal to scipy's order-1 interpolation inside the image).
 */
export class ImageDataGenerator {
  private readonly rand: () => number;

  constructor(private readonly options: ImageDataGeneratorOptions = {}) {
    this.rand = seededRandom(options.seed ?? 1);
    const zoom = options.zoomRange;
    if (
      Array.isArray(zoom)
        ? !(zoom[0] > 0 && zoom[1] >= zoom[0])
        : zoom !== undefined && !(zoom >= 0 && zoom < 1)
    ) {
      throw new Error(
        "ImageDataGenerator: zoomRange must be a number in [0, 1) or [lo, hi] with 0 < lo <= hi, " +
          `got ${JSON.stringify(zoom)}`,
      );
    }
  }

  /** Whether any geometric augmentation is configured. */
  get augments(): boolean {
    const o = this.options;
    return Boolean(
      o.horizontalFlip ||
      o.rotationRange ||
      o.shearRange ||
      o.zoomRange ||
      o.widthShiftRange ||
      o.heightShiftRange,
    );
  }

  /** Draws one image's transform, in Keras's order (rotation, shifts, shear, zoom, flip). */
  randomParams(rows: number, cols: number): AffineParams {
    const o = this.options;
    const u = (r: number | undefined) => (r ? (2 * this.rand() - 1) * r : 0);
    const shift = (r: number | undefined, size: number) => (r && r < 1 ? u(r) * size : u(r));
    const [zlo, zhi] = Array.isArray(o.zoomRange)
      ? o.zoomRange
      : [1 - (o.zoomRange ?? 0), 1 + (o.zoomRange ?? 0)];
    const theta = u(o.rotationRange);
    const tx = shift(o.heightShiftRange, rows);
    const ty = shift(o.widthShiftRange, cols);
    const shear = u(o.shearRange);
    const zx = zlo === 1 && zhi === 1 ? 1 : zlo + (zhi - zlo) * this.rand();
    const zy = zlo === 1 && zhi === 1 ? 1 : zlo + (zhi - zlo) * this.rand();
    const flipHorizontal = Boolean(o.horizontalFlip) && this.rand() < 0.5;
    return { theta, tx, ty, shear, zx, zy, flipHorizontal };
  }

  /**
   * Applies the given transforms (one per image) to a `[n, rows, cols, channels]` batch, then the
   * standardisation. With {@link IDENTITY} transforms only the standardisation happens.
   */
  apply(images: tf.Tensor4D, params: AffineParams[]): tf.Tensor4D {
    const [n, rows, cols] = images.shape;
    if (params.length !== n)
      throw new Error(`ImageDataGenerator.apply: ${params.length} transforms for ${n} images`);
    return tf.tidy(() => {
      let x = tf.cast(images, "float32") as tf.Tensor4D;
      const affine = params.some(
        (p) => p.theta || p.tx || p.ty || p.shear || p.zx !== 1 || p.zy !== 1,
      );
      if (affine) {
        const transforms = tf.tensor2d(
          params.map((p) => toTfTransform(kerasTransformMatrix(p, rows, cols))),
          [n, 8],
        );
        x = tf.image.transform(
          x,
          transforms,
          "bilinear",
          this.options.fillMode ?? "nearest",
          this.options.cval ?? 0,
        );
      }
      if (params.some((p) => p.flipHorizontal)) {
        const mask = tf
          .tensor4d(
            params.map((p) => (p.flipHorizontal ? 1 : 0)),
            [n, 1, 1, 1],
          )
          .cast("bool");
        x = tf.where(mask, tf.reverse(x, 2), x) as tf.Tensor4D;
      }
      return this.standardize(x);
    });
  }

  /** Rescaling and per-sample centring/normalisation (Keras's `standardize`). */
  standardize(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      if (this.options.rescale !== undefined) y = tf.mul(y, this.options.rescale);
      if (this.options.samplewiseCenter) y = tf.sub(y, tf.mean(y, [1, 2, 3], true));
      if (this.options.samplewiseStdNormalization) {
        const { variance } = tf.moments(y, [1, 2, 3], true);
        y = tf.div(y, tf.add(tf.sqrt(variance), 1e-7));
      }
      return y as tf.Tensor4D;
    });
  }

  /** Augments a batch with fresh random transforms. */
  randomTransform(images: tf.Tensor4D): tf.Tensor4D {
    const [n, rows, cols] = images.shape;
    const params = this.augments
      ? Array.from({ length: n }, () => this.randomParams(rows, cols))
      : Array.from({ length: n }, () => IDENTITY);
    return this.apply(images, params);
  }

  /**
   * Batches of augmented images and one-hot labels from uint8 images (`count x rows x cols`, one
   * channel) as a tf.data Dataset for `model.fitDataset`, reshuffled every pass when `shuffle`.
   * Like Keras's `flow`, it never ends by default: passes follow one another (each ending with a
   * partial batch when `count` is not a multiple of the batch size), and `fitDataset`'s
   * `batchesPerEpoch` says where an epoch ends (the book: 1,500 batches of 256, 6.4 passes).
   * `passes` limits it. Each batch is built on demand, so only one batch of augmented images
   * exists at a time.
   */
  flow(
    images: Uint8Array,
    labels: Uint8Array,
    shape: { count: number; rows: number; cols: number },
    options: { batchSize?: number; shuffle?: boolean; numClasses?: number; passes?: number } = {},
  ): tf.data.Dataset<{ xs: tf.Tensor4D; ys: tf.Tensor2D }> {
    const { count, rows, cols } = shape;
    const batchSize = options.batchSize ?? 32;
    const numClasses = options.numClasses ?? 10;
    const shuffle = options.shuffle ?? true;
    const passes = options.passes ?? Infinity;
    if (images.length !== count * rows * cols || labels.length !== count) {
      throw new Error(
        `ImageDataGenerator.flow: ${images.length} pixels and ${labels.length} labels ` +
          `do not match ${count} images of ${rows}x${cols}`,
      );
    }
    if (!(passes >= 1))
      throw new Error(`ImageDataGenerator.flow: passes must be at least 1, got ${passes}`);
    const self = this;
    const order = Array.from({ length: count }, (_, i) => i);
    return tf.data.generator(function* () {
      for (let pass = 0; pass < passes; pass++) yield* onePass();
    });

    function* onePass() {
      if (shuffle) {
        for (let i = count - 1; i > 0; i--) {
          const j = Math.floor(self.rand() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      for (let start = 0; start < count; start += batchSize) {
        const idx = order.slice(start, start + batchSize);
        const pixels = new Float32Array(idx.length * rows * cols);
        idx.forEach((k, i) =>
          pixels.set(images.subarray(k * rows * cols, (k + 1) * rows * cols), i * rows * cols),
        );
        const batch = tf.tensor4d(pixels, [idx.length, rows, cols, 1]);
        const xs = self.randomTransform(batch);
        batch.dispose();
        const ys = tf.tidy(
          () =>
            tf
              .oneHot(
                tf.tensor1d(
                  idx.map((k) => labels[k]),
                  "int32",
                ),
                numClasses,
              )
              .cast("float32") as tf.Tensor2D,
        );
        yield { xs, ys };
      }
    }
  }
}
