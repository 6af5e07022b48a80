/**
 * Entry point of a data-parallel training worker (see data-parallel.ts). It rebuilds the model
 * from its JSON topology on its own backend instance, then loops: wait for a step command, load
 * the newest weights, compute loss, metrics and gradients of its shard, write them back, signal.
 */
import { parentPort, workerData } from "worker_threads";
import * as tf from "@tensorflow/tfjs";
import { initBackend, BackendName } from "../../backend/init";
import { seedGlobalRandom } from "../../core/random";
import "../../rnn/fused-layer"; // registers the package's serializable layers
import {
  COMMAND_EXIT,
  ChannelLayout,
  SLOT,
  channel,
  readShape,
  weightBoard,
  writeError,
} from "./protocol";
import {
  floatCount,
  nonTrainableVariables,
  packTensors,
  packVariables,
  shardStep,
  trainableVariables,
  unpack,
} from "./shard";

/** What the main thread sends when it starts a worker. */
export interface WorkerSetup {
  backend: BackendName;
  seed: number;
  topology: object;
  loss: string;
  metrics: string[];
  layout: ChannelLayout;
  channel: SharedArrayBuffer;
  board: SharedArrayBuffer;
}

async function start(setup: WorkerSetup): Promise<void> {
  await initBackend({ backend: setup.backend, quiet: true });
  seedGlobalRandom(setup.seed);
  const model = await tf.models.modelFromJSON({
    modelTopology: setup.topology,
  } as tf.io.ModelJSON as never);
  model.compile({ optimizer: "sgd", loss: setup.loss, metrics: setup.metrics });
  const trainable = trainableVariables(model);
  const others = nonTrainableVariables(model);
  const all = [...trainable, ...others];
  const ch = channel(setup.layout, setup.channel);
  const board = weightBoard(floatCount(all), setup.board);
  if (
    floatCount(trainable) !== setup.layout.trainable ||
    floatCount(others) !== setup.layout.nonTrainable
  ) {
    throw new Error("the rebuilt model's weights differ from the original's");
  }
  parentPort!.postMessage({ ready: true });
  let seen = 0;
  let version = -1;
  for (;;) {
    Atomics.wait(ch.control, SLOT.command, seen);
    seen = Atomics.load(ch.control, SLOT.command);
    if (ch.control[SLOT.kind] === COMMAND_EXIT) break;
    ch.control[SLOT.failed] = 0;
    try {
      const current = Atomics.load(board.version, 0);
      if (current !== version) {
        tf.tidy(() => unpack(all, board.values).forEach((t, i) => all[i].write(t)));
        version = current;
      }
      step(model, ch);
    } catch (e) {
      writeError(ch, (e as Error)?.stack ?? String(e));
    }
    Atomics.store(ch.control, SLOT.done, seen);
    Atomics.notify(ch.control, SLOT.done);
  }
  model.dispose();
}

function step(model: tf.LayersModel, ch: ReturnType<typeof channel>): void {
  const rows = ch.control[SLOT.rows];
  const xShape = readShape(ch.control, SLOT.inputShape);
  const yShape = readShape(ch.control, SLOT.targetShape);
  const size = (shape: number[]) => rows * shape.reduce((a, b) => a * b, 1);
  tf.tidy(() => {
    const x = tf.tensor(
      ch.input.subarray(0, size(xShape)),
      [rows, ...xShape],
      model.inputs[0].dtype,
    );
    const y = tf.tensor(ch.target.subarray(0, size(yShape)), [rows, ...yShape]);
    const r = shardStep(model, x, y);
    packTensors(r.grads, ch.grads);
    packVariables(nonTrainableVariables(model), ch.stats);
    ch.outputs.set([r.loss, ...r.metrics].map((t) => t.dataSync()[0]));
    tf.dispose(r.metrics);
  });
}

start(workerData as WorkerSetup).catch((e) =>
  parentPort!.postMessage({ error: (e as Error)?.message ?? String(e) }),
);
