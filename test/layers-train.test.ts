import * as assert from "assert";
import * as tf from "@tensorflow/tfjs";
import {
  fashionCnn,
  initBackend,
  mnistCnn,
  seedGlobalRandom,
  sunspotRnn,
} from "advanced-neural-models";
import { TEST_BACKEND } from "./helpers";

/**
 * Every layer of the chapter trains on the test backend (wasm, or CH10_TEST_BACKEND) as on cpu, the
 * plain-JavaScript reference: the same model, weights and batch give the same loss and the same
 * updated weights after one SGD step.
 */
const L = tf.layers;
const cases: { name: string; input: number[]; layers: () => tf.layers.Layer[] }[] = [
  {
    name: "Conv1D",
    input: [9, 3],
    layers: () => [L.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: "same" })],
  },
  {
    name: "Conv2D strides 2 valid",
    input: [9, 8, 2],
    layers: () => [L.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: "valid" })],
  },
  {
    name: "Conv2D dilation 2",
    input: [9, 9, 2],
    layers: () => [L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: "same" })],
  },
  {
    name: "SeparableConv2D",
    input: [8, 7, 3],
    layers: () => [
      L.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, padding: "same" }),
    ],
  },
  {
    name: "DepthwiseConv2D",
    input: [8, 7, 3],
    layers: () => [
      L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same" }),
    ],
  },
  {
    name: "Conv2DTranspose strides 2",
    input: [4, 5, 3],
    layers: () => [L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: "same" })],
  },
  {
    name: "Conv2DTranspose strides 4",
    input: [3, 3, 2],
    layers: () => [L.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 4, padding: "same" })],
  },
  {
    name: "Conv3D",
    input: [5, 5, 4, 2],
    layers: () => [L.conv3d({ filters: 2, kernelSize: 3, padding: "same" })],
  },
  {
    name: "pooling",
    input: [8, 8, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 3 }),
      L.maxPooling2d({ poolSize: 2 }),
      L.averagePooling2d({ poolSize: 2, padding: "same" }),
    ],
  },
  {
    name: "global pooling",
    input: [6, 6, 2],
    layers: () => [L.conv2d({ filters: 3, kernelSize: 3 }), L.globalAveragePooling2d({})],
  },
  {
    name: "UpSampling2D",
    input: [3, 4, 2],
    layers: () => [
      L.conv2d({ filters: 2, kernelSize: 1 }),
      L.upSampling2d({ size: [2, 3] }),
      L.conv2d({ filters: 2, kernelSize: 3 }),
    ],
  },
  {
    name: "ZeroPadding2D + Cropping2D",
    input: [5, 5, 2],
    layers: () => [
      L.zeroPadding2d({ padding: 2 }),
      L.conv2d({ filters: 2, kernelSize: 3 }),
      L.cropping2D({
        cropping: [
          [1, 0],
          [0, 1],
        ],
      }),
    ],
  },
  {
    name: "BatchNormalization + LeakyReLU",
    input: [6, 6, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 3 }),
      L.batchNormalization(),
      L.leakyReLU({ alpha: 0.1 }),
    ],
  },
  {
    name: "Dense + BatchNormalization",
    input: [5],
    layers: () => [
      L.dense({ units: 4 }),
      L.batchNormalization({ momentum: 0.5 }),
      L.leakyReLU({ alpha: 0.1 }),
    ],
  },
  { name: "SimpleRNN", input: [7, 3], layers: () => [L.simpleRNN({ units: 4 })] },
  {
    name: "LSTM",
    input: [7, 3],
    layers: () => [L.lstm({ units: 4, returnSequences: true }), L.lstm({ units: 3 })],
  },
  { name: "GRU", input: [7, 3], layers: () => [L.gru({ units: 4 })] },
  {
    name: "Bidirectional LSTM",
    input: [6, 2],
    layers: () => [L.bidirectional({ layer: L.lstm({ units: 3 }) as tf.RNN })],
  },
  {
    name: "ConvLSTM2D",
    input: [3, 5, 5, 1],
    layers: () => [L.convLstm2d({ filters: 2, kernelSize: 3, padding: "same" })],
  },
  {
    name: "TimeDistributed Conv2D",
    input: [3, 6, 6, 1],
    layers: () => [L.timeDistributed({ layer: L.conv2d({ filters: 2, kernelSize: 3 }) })],
  },
];

function build(c: (typeof cases)[number]): tf.Sequential {
  const layers = c.layers();
  const m = tf.sequential({ layers: [L.inputLayer({ inputShape: c.input }), ...layers] });
  if (m.outputs[0].shape.length > 2) m.add(L.flatten());
  m.add(L.dense({ units: 2 }));
  m.compile({ optimizer: tf.train.sgd(0.05), loss: "meanSquaredError" });
  return m;
}

async function oneStep(
  c: (typeof cases)[number],
  backend: typeof TEST_BACKEND,
  weights: Float32Array[] | undefined,
) {
  await initBackend({ backend, quiet: true });
  // the same initial weights every run: one step of SGD must lower the loss from them
  const restore = seedGlobalRandom(11);
  const m = build(c);
  restore();
  if (weights) m.setWeights(weights.map((w, i) => tf.tensor(w, m.getWeights()[i].shape)));
  const initial = m.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  const x = tf.randomUniform([3, ...c.input], -1, 1, "float32", 7);
  const y = tf.randomUniform([3, 2], -1, 1, "float32", 8);
  const before = tf.memory().numTensors;
  const loss = (await m.trainOnBatch(x, y)) as number;
  const loss2 = (await m.trainOnBatch(x, y)) as number;
  const growth = tf.memory().numTensors - before;
  const updated = m.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, y]);
  m.dispose();
  return { loss, loss2, initial, updated, growth };
}

describe(`every chapter layer trains on ${TEST_BACKEND} as on cpu`, function () {
  this.timeout(120000);
  after(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });
  for (const c of cases) {
    it(c.name, async () => {
      const w = await oneStep(c, TEST_BACKEND, undefined);
      const p = await oneStep(c, "cpu", w.initial);
      assert.ok(Number.isFinite(w.loss) && w.loss > 0);
      assert.ok(
        Math.abs(w.loss - p.loss) <= 1e-4 * Math.max(1, w.loss),
        `loss ${TEST_BACKEND} ${w.loss} vs cpu ${p.loss}`,
      );
      assert.ok(
        Math.abs(w.loss2 - p.loss2) <= 1e-4 * Math.max(1, w.loss2),
        `second-step loss ${TEST_BACKEND} ${w.loss2} vs cpu ${p.loss2}`,
      );
      assert.ok(w.loss2 < w.loss, `one SGD step lowered the loss (${w.loss} -> ${w.loss2})`);
      w.updated.forEach((u, i) => {
        let d = 0;
        u.forEach((v, k) => (d = Math.max(d, Math.abs(v - p.updated[i][k]))));
        assert.ok(d < 1e-4, `weight ${i}: ${TEST_BACKEND} and cpu differ by ${d} after training`);
      });
      assert.strictEqual(w.growth, 0, `no tensors leaked on ${TEST_BACKEND}`);
    });
  }
});

describe("the book's models", () => {
  before(async () => {
    await initBackend({ backend: TEST_BACKEND, quiet: true });
  });
  it("have the parameter counts Keras reports", () => {
    assert.strictEqual(mnistCnn().countParams(), 1120074);
    assert.strictEqual(fashionCnn().countParams(), 7770442);
    // LSTM(4) on one feature: 4 gates x 4 units x (1 input + 4 recurrent + 1 bias) = 96,
    // plus Dense(1) = 5
    assert.strictEqual(sunspotRnn().countParams(), 101);
  });
});
