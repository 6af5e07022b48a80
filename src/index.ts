/**
 * Helper library of the chapter-10 notebook pack (Bonaccorso, Mastering Machine Learning
 * Algorithms, "Advanced Neural Models"). Notebooks import everything from here by package name.
 */

// core: matrices, seeded randomness, run mode
export * from "./core/matrix";
export * from "./core/random";
export * from "./core/mode";
export * from "./core/stats";

// backend selection and the fallback kernels/gradients
export * from "./backend/init";
export * from "./native/load";
export * from "./backend/webgpu";
export * from "./native/manifest";
export * from "./backend/fallback-kernels";
export * from "./backend/conv-grad";
export * from "./backend/dropout";
export * from "./backend/simd-filter-grad";

// convolution from scratch, geometry and counts
export * from "./conv/filters";
export * from "./conv/naive";
export * from "./conv/geometry";
export * from "./conv/from-scratch";
export * from "./conv/separable";
export * from "./conv/counts";
export * from "./conv/tf-bridge";
export * from "./signal/continuous";

// data
export * from "./data/images";
export * from "./data/synthetic";
export * from "./data/idx";
export * from "./data/mnist";
export * from "./data/fashion";
export * from "./data/sunspots";
export * from "./data/sequences";
export * from "./data/subsets";
export * from "./augment/affine";
export * from "./augment/generator";

// models and training
export * from "./models/cnn";
export * from "./models/keras-defaults";
export * from "./models/rnn";
export * from "./models/transfer";
export * from "./train/optimizer";
export * from "./train/plateau";
export * from "./train/nan-guard";
export * from "./train/logs";
export * from "./train/progress";
export * from "./train/fit";
export * from "./notebook/interrupt";
export { setUpKernel } from "./notebook/kernel-setup";
export * from "./train/evaluate";
export * from "./train/file-io";
export * from "./train/checkpoint";
export * from "./train/batchnorm";
export {
  DataParallel,
  planThreads,
  threadsThatFit,
  THREADS_ENV,
  ThreadPlan,
} from "./train/parallel/data-parallel";
export * from "./train/memory";

// Recurrent networks from their equations
export * from "./rnn/linalg";
export * from "./rnn/simple";
export * from "./rnn/cells";
export * from "./rnn/series";
export * from "./rnn/stateful";
export * from "./rnn/fused-math";
export * from "./rnn/fused-layer";

// Experiments shared by the notebooks and `npm run experiment`
export * from "./experiments/record";
export * from "./experiments/output-folder";
export * from "./experiments/session";
export * from "./experiments/mnist";
export * from "./experiments/fashion";
export * from "./experiments/sunspots";
export * from "./experiments/transfer";
export * from "./experiments/fidelity";
export * from "./experiments/reference-runs";

// charts, tables, notebook helpers
export * from "./viz/spec";
export * from "./viz/heatmap";
export * from "./viz/charts";
export * from "./viz/comparison-charts";
export * from "./viz/render";
export * from "./viz/display";
export * from "./viz/table";
export * from "./notebook/exercise";
export * as convolutionExercises from "./exercises/convolution";
export * as recurrentExercises from "./exercises/recurrent";
