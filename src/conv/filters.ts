import { fromRows, Matrix } from "../core/matrix";

/**
 * The 3x3 discrete Laplacian used throughout the book's convolution section
 * (the 5-point stencil: -4 in the centre, 1 on the four neighbours).
 */
export const LAPLACIAN: Matrix = fromRows([
  [0, 1, 0],
  [1, -4, 1],
  [0, 1, 0],
]);

/** The horizontal Sobel kernel: an exactly rank-1 (separable) kernel. */
export const SOBEL_X: Matrix = fromRows([
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
]);
