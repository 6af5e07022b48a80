import * as tf from "@tensorflow/tfjs";
import { modelSummary } from "../train/evaluate";
import { DecayedAdam } from "../train/optimizer";

/** One layer of {@link Architecture.layers}: what `modelSummary` shows of it. */
export interface ArchitectureLayer {
  layer: string;
  type: string;
  output: string;
  params: number;
}

/** What a run trained, as results.json records it ({@link describeArchitecture}). */
export interface Architecture {
  /** `model.countParams()`: trainable weights plus BatchNorm's moving statistics, as Keras. */
  parameters: number;
  layers: ArchitectureLayer[];
  /** The optimizer: its class and settings, e.g. `Adam {"beta1":0.9,...}`. */
  optimizer: string;
  loss: string;
  /** Whether network, optimizer and loss are the book's (`differences` is empty). */
  book: boolean;
  /** What differs from the book's, one line each, e.g. `layer 2 (Conv2D): filters 8, book 16`. */
  differences: string[];
}

type LayerConfig = { className: string; config: Record<string, unknown> };

/** The layers' configurations of `model`, without their names (which count up per process). */
function layerConfigs(model: tf.LayersModel): LayerConfig[] {
  const layers = (model.getConfig() as { layers?: LayerConfig[] }).layers ?? [];
  return layers.map(({ className, config }) => {
    const { name: _name, ...rest } = config;
    return { className, config: rest };
  });
}

const show = (v: unknown) => JSON.stringify(v) ?? "none";

/**
 * Pairs the layers of two networks by their classes: a longest common subsequence of the class
 * names anchors the pairs, and between two anchors the layers left on both sides are paired in
 * order (a changed layer); the rest are layers only one network has.
 * @returns index pairs, `undefined` on the side that lacks the layer.
 */
export function alignLayers(
  mine: string[],
  book: string[],
): [number | undefined, number | undefined][] {
  const n = mine.length,
    m = book.length;
  // lcs[i][j]: length of the longest common subsequence of mine[i..] and book[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] =
        mine[i] === book[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const pairs: [number | undefined, number | undefined][] = [];
  let gapMine: number[] = [],
    gapBook: number[] = [];
  const closeGap = () => {
    for (let k = 0; k < Math.max(gapMine.length, gapBook.length); k++)
      pairs.push([gapMine[k], gapBook[k]]);
    gapMine = [];
    gapBook = [];
  };
  let i = 0,
    j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && mine[i] === book[j] && lcs[i][j] === lcs[i + 1][j + 1] + 1) {
      closeGap();
      pairs.push([i++, j++]);
    } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) gapMine.push(i++);
    else gapBook.push(j++);
  }
  closeGap();
  return pairs;
}

/**
 * How the layers of `model` differ from those of `reference`, one line per difference: a layer
 * whose arguments differ (its position from 1, each differing argument beside the reference's
 * value), a layer of another class in its place, a layer the reference lacks, or one of the
 * reference's that is missing (layers paired by {@link alignLayers}); empty when the two are
 * configured alike (names aside). `label` names the reference in the lines.
 */
export function layerDifferences(
  model: tf.LayersModel,
  reference: tf.LayersModel,
  label = "book",
): string[] {
  const mine = layerConfigs(model),
    book = layerConfigs(reference);
  const pairs = alignLayers(
    mine.map((l) => l.className),
    book.map((l) => l.className),
  );
  const lines: string[] = [];
  for (const [i, j] of pairs) {
    if (j === undefined) {
      lines.push(`layer ${i! + 1} (${mine[i!].className}): not in the ${label}'s network`);
      continue;
    }
    const b = book[j];
    if (i === undefined) {
      lines.push(`layer ${j + 1} (${b.className}) of the ${label}'s network is missing`);
      continue;
    }
    const m = mine[i];
    const sameClass = m.className === b.className;
    // a layer of another class: only the arguments both classes have are compared
    const keys = sameClass
      ? [...new Set([...Object.keys(m.config), ...Object.keys(b.config)])]
      : Object.keys(m.config).filter((k) => k in b.config);
    const differing = keys
      .filter((k) => show(m.config[k]) !== show(b.config[k]))
      .map((k) => `${k} ${show(m.config[k])}, ${label} ${show(b.config[k])}`);
    if (!sameClass)
      lines.push(
        [`layer ${i + 1}: ${m.className}, ${label} ${b.className}`, ...differing].join("; "),
      );
    else if (differing.length)
      lines.push(`layer ${i + 1} (${m.className}): ${differing.join("; ")}`);
  }
  return lines;
}

/**
 * {@link layerDifferences} of `model` against a network `build` makes for the comparison, freed
 * after (also when the comparison throws).
 */
export function differencesFrom(model: tf.LayersModel, build: () => tf.LayersModel): string[] {
  const reference = build();
  try {
    return layerDifferences(model, reference);
  } finally {
    reference.dispose();
  }
}

/**
 * An optimizer as a line: its class and configuration. The learning rate that a schedule
 * changes while training (`DecayedAdam`'s `learningRate`) is left out; its `baseLearningRate`
 * stays.
 */
export function optimizerLine(optimizer: tf.Optimizer | undefined): string {
  if (!optimizer) return "none (not compiled)";
  const config = { ...optimizer.getConfig() };
  if ("baseLearningRate" in config) delete config.learningRate;
  return `${optimizer.getClassName()} ${JSON.stringify(config)}`;
}

/** The loss a compiled model was given, as a line. */
const lossLine = (model: tf.LayersModel) => show(model.loss ?? null).replace(/^"|"$/g, "");

/**
 * What `model` is, for results.json: its summary and parameter count, its optimizer and loss,
 * and how it differs from `book`, the book's network compiled as the book compiles it (both
 * compiled; call before training, while the optimizer's settings are the ones it started with).
 */
export function describeArchitecture(model: tf.LayersModel, book: tf.LayersModel): Architecture {
  const differences = layerDifferences(model, book);
  const optimizer = optimizerLine(model.optimizer),
    bookOptimizer = optimizerLine(book.optimizer);
  if (optimizer !== bookOptimizer)
    differences.push(`optimizer ${optimizer}, book ${bookOptimizer}`);
  const loss = lossLine(model);
  if (loss !== lossLine(book)) differences.push(`loss ${loss}, book ${lossLine(book)}`);
  return {
    parameters: model.countParams(),
    layers: modelSummary(model),
    optimizer,
    loss,
    book: differences.length === 0,
    differences,
  };
}

/**
 * Checks that `model` can take the experiment's inputs: its input shape must be `shape` after
 * the batch dimension, which must be `batch` when given (a stateful network's fixed batch), must
 * be free when `batch` is null (a stateless protocol shuffles batches, so a fixed batch would
 * carry state between unrelated windows), and is not checked when `batch` is undefined.
 * @throws naming `name`, the model's input shape and the one the data have.
 */
export function assertInputShape(
  name: string,
  model: tf.LayersModel,
  shape: number[],
  batch?: number | null,
): void {
  const input = model.inputs[0]?.shape ?? [];
  const wanted = [batch ?? null, ...shape];
  const fits =
    input.length === wanted.length &&
    input.every((d, i) => (i === 0 && batch === undefined) || d === wanted[i]);
  if (fits) return;
  const why =
    batch === null
      ? " (this protocol is stateless: build the network with inputShape, not batchInputShape)"
      : batch !== undefined
        ? " (a stateful network's batch size is fixed by the settings)"
        : "";
  throw new Error(
    `${name}: the model takes inputs of shape ${show(input)}, the data are ${show(wanted)}${why}`,
  );
}

/**
 * One line on what a record trained: `the book's network` or `a modified network: …` with its
 * differences; records made before architectures were recorded say so.
 */
export function architectureNote(record: { architecture?: Architecture }): string {
  const a = record.architecture;
  if (!a) return "network not recorded (a record older than the architecture field)";
  if (a.book) return `the book's network (${a.parameters.toLocaleString("en-US")} parameters)`;
  return (
    `a modified network or optimizer (${a.parameters.toLocaleString("en-US")} parameters): ` +
    a.differences.join("; ")
  );
}

/**
 * The settings a given, compiled network decides itself: the learning rate and decay of its
 * `DecayedAdam` (none for another optimizer, or before compiling).
 */
export function optimizerSettings(model: tf.LayersModel): {
  learningRate?: number;
  decay?: number;
} {
  const o = model.optimizer;
  // (tfjs's Optimizer[Symbol.hasInstance] fails on undefined: test before instanceof)
  if (!o || !(o instanceof DecayedAdam)) return {};
  return { learningRate: o.baseLearningRate, decay: o.decay };
}

/**
 * `settings` with the values that the given network `model` decides itself (`read(model)`), so
 * that results.json and the checkpoint record what trained; each value that differs from the
 * settings' is printed once.
 */
export function settingsWithModel<S extends object>(
  name: string,
  settings: S,
  model: tf.LayersModel | undefined,
  read: (model: tf.LayersModel) => Partial<S>,
): S {
  if (!model) return settings;
  const actual = read(model);
  for (const [key, value] of Object.entries(actual))
    if (value !== undefined && value !== (settings as Record<string, unknown>)[key])
      console.log(
        `${name}: ${key} ${JSON.stringify(value)}, as the given model has it ` +
          `(the settings said ${JSON.stringify((settings as Record<string, unknown>)[key])})`,
      );
  return { ...settings, ...actual };
}
