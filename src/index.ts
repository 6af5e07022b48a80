/**
 * Helper library of the chapter-10 notebook pack (Bonaccorso, Mastering Machine Learning
 * Algorithms, "Advanced Neural Models"). Notebooks import everything from here by package name.
 *
 * The public API, grouped as README's library table: core, backend, convolution, data and
 * augmentation, models, training, recurrent networks, experiments, charts and notebook helpers.
 * Internals (the native binding, the fallback and native kernels, the WebGPU loader, the
 * live-view plumbing, the kernel set-up initBackend runs) are left out; tests reach them through
 * `advanced-neural-models/dist/<module>`.
 */

// core: matrices, seeded randomness, statistics, the run mode (CH10_MODE)
export * from "./core/matrix";
export * from "./core/random";
export * from "./core/mode";
export * from "./core/stats";
export * from "./core/history";
export { projectPath } from "./core/project";

// backend: choosing and setting up the tfjs backend (native TensorFlow, WebGPU, wasm, cpu)
export * from "./backend/init";

// convolution from scratch, geometry and counts; continuous convolution
export * from "./conv/filters";
export * from "./conv/naive";
export * from "./conv/geometry";
export * from "./conv/from-scratch";
export * from "./conv/separable";
export * from "./conv/counts";
export * from "./conv/tf-bridge";
export * from "./signal/continuous";

// data and augmentation
export * from "./data/images";
export * from "./data/synthetic";
export * from "./data/idx";
export * from "./data/image-dataset";
export * from "./data/mnist";
export * from "./data/fashion";
export * from "./data/sunspots";
export * from "./data/sequences";
export * from "./data/subsets";
export * from "./augment/affine";
export * from "./augment/generator";

// models: the book's networks with Keras 2's defaults, transfer learning
export * from "./models/cnn";
export * from "./models/keras-defaults";
export * from "./models/rnn";
export * from "./models/transfer";

// training: train(), optimizers and callbacks, checkpoints, threads and memory, stopping
export * from "./train/fit";
export * from "./train/optimizer";
export * from "./train/plateau";
export * from "./train/nan-guard";
export * from "./train/evaluate";
export * from "./train/file-io";
export * from "./train/checkpoint";
export * from "./train/batchnorm";
export * from "./train/memory";
export {
  DataParallel,
  planThreads,
  threadsThatFit,
  THREADS_ENV,
  ThreadPlan,
} from "./train/parallel/data-parallel";
export * from "./notebook/interrupt";

// recurrent networks from their equations
export * from "./rnn/linalg";
export * from "./rnn/simple";
export * from "./rnn/cells";
export * from "./rnn/series";
export * from "./rnn/stateful";
export * from "./rnn/fused-math";
export * from "./rnn/fused-layer";

// experiments shared by the notebooks and `npm run experiment`: records, runs, the fidelity table
export * from "./experiments/record";
export * from "./experiments/output-folder";
export * from "./experiments/session";
export * from "./experiments/mnist";
export * from "./experiments/fashion";
export * from "./experiments/sunspots";
export * from "./experiments/transfer";
export * from "./experiments/fidelity";
export * from "./experiments/fidelity-view";
export * from "./experiments/reference-runs";
export * from "./experiments/architecture";

// charts, tables and notebook helpers (display, exercise checks)
export * from "./viz/spec";
export * from "./viz/heatmap";
export * from "./viz/charts";
export * from "./viz/comparison-charts";
export * from "./viz/cell-diagram";
export * from "./viz/render";
export * from "./viz/display";
export * from "./viz/table";
export * from "./notebook/exercise";
export * as convolutionExercises from "./exercises/convolution";
export * as recurrentExercises from "./exercises/recurrent";
