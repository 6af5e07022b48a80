/**
 * Keras's affine augmentation matrices (keras_preprocessing `apply_affine_transform`), in
 * (row, col) coordinates: output pixel p maps to input point `A p + o`.
 */

/** One random draw of the transform, Keras's parameter names and units (angles in degrees). */
export interface AffineParams {
  /** Rotation in degrees. */
  theta: number;
  /** Shift along rows (pixels). */
  tx: number;
  /** Shift along columns (pixels). */
  ty: number;
  /** Shear angle in degrees. */
  shear: number;
  /** Zoom along rows and columns (1 = none; > 1 shows a smaller part, i.e. zooms out). */
  zx: number;
  zy: number;
  /** Mirror left-right after the affine transform. */
  flipHorizontal: boolean;
}

/** The identity draw. */
export const IDENTITY: AffineParams = {
  theta: 0,
  tx: 0,
  ty: 0,
  shear: 0,
  zx: 1,
  zy: 1,
  flipHorizontal: false,
};

type M3 = number[][];

function mul(a: M3, b: M3): M3 {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

/**
 * The 3x3 matrix Keras builds: rotation · shift · shear · zoom, then moved to the image centre
 * with Keras's offset `size / 2 + 0.5` (half a pixel off the true centre; kept for compatibility).
 */
export function kerasTransformMatrix(p: AffineParams, rows: number, cols: number): M3 {
  const t = (p.theta * Math.PI) / 180;
  const s = (p.shear * Math.PI) / 180;
  let m: M3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  if (p.theta !== 0)
    m = mul(m, [
      [Math.cos(t), -Math.sin(t), 0],
      [Math.sin(t), Math.cos(t), 0],
      [0, 0, 1],
    ]);
  if (p.tx !== 0 || p.ty !== 0)
    m = mul(m, [
      [1, 0, p.tx],
      [0, 1, p.ty],
      [0, 0, 1],
    ]);
  if (p.shear !== 0)
    m = mul(m, [
      [1, -Math.sin(s), 0],
      [0, Math.cos(s), 0],
      [0, 0, 1],
    ]);
  if (p.zx !== 1 || p.zy !== 1)
    m = mul(m, [
      [p.zx, 0, 0],
      [0, p.zy, 0],
      [0, 0, 1],
    ]);
  const ox = rows / 2 + 0.5;
  const oy = cols / 2 + 0.5;
  return mul(
    mul(
      [
        [1, 0, ox],
        [0, 1, oy],
        [0, 0, 1],
      ],
      m,
    ),
    [
      [1, 0, -ox],
      [0, 1, -oy],
      [0, 0, 1],
    ],
  );
}

/**
 * The same map in the 8-number form of `tf.image.transform`, which works in (x = col, y = row):
 * input (x', y') = (a0 x + a1 y + a2, b0 x + b1 y + b2).
 */
export function toTfTransform(m: M3): number[] {
  return [m[1][1], m[1][0], m[1][2], m[0][1], m[0][0], m[0][2], 0, 0];
}
