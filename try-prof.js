const tf = require("@tensorflow/tfjs");
const L = require("./dist");
(async () => {
  await L.initBackend({ quiet: true });
  const m = L.mnistCnn();
  m.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  const x = tf.randomUniform([256, 28, 28, 1]), y = tf.oneHot(tf.randomUniform([256], 0, 10, "int32"), 10);
  await m.trainOnBatch(x, y);
  const t0 = Date.now(); await m.trainOnBatch(x, y); console.log("step", Date.now() - t0, "ms");
  const info = await tf.profile(async () => { await m.trainOnBatch(x, y); });
  const by = {};
  for (const k of info.kernels) { const key = k.name; by[key] = by[key] || { ms: 0, n: 0 }; by[key].ms += (typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0); by[key].n++; }
  const rows = Object.entries(by).sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
  for (const [k, v] of rows) console.log(k.padEnd(28), v.n, v.ms.toFixed(0));
})();
