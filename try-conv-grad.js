const tf = require("@tensorflow/tfjs");
const L = require("./dist");
(async () => {
  await L.initBackend({ quiet: true });
  for (const [H, ci, co] of [[28, 1, 16], [28, 16, 32], [14, 32, 64], [7, 64, 64]]) {
    const B = 256;
    const x = tf.randomNormal([B, H, H, ci]), dy = tf.randomNormal([B, H, H, co]);
    const viaKernel = () => tf.conv2dBackpropFilter ? null : null;
    // current registered kernel
    const cur = () => tf.tidy(() => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides: [1, 1], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, filterShape: [3, 3, ci, co] }));
    // conv trick: X^T [ci, H+2, W+2, B] conv with dY^T [H, W, B, co] -> [ci, 3, 3, co]
    const trick = () => tf.tidy(() => {
      const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const xt = tf.transpose(xp, [3, 1, 2, 0]);
      const dyt = tf.transpose(dy, [1, 2, 0, 3]);
      const r = tf.conv2d(xt, dyt, 1, "valid");
      return tf.transpose(r, [1, 2, 0, 3]);
    });
    const a = cur(), b = trick();
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], scale = tf.max(tf.abs(a)).dataSync()[0];
    const time = (f) => { f().dispose(); const t = performance.now(); for (let i = 0; i < 3; i++) f().dispose(); return (performance.now() - t) / 3; };
    console.log(`${H}x${H}x${ci}->${co}: current ${time(cur).toFixed(0)} ms, conv trick ${time(trick).toFixed(0)} ms, rel diff ${(diff / scale).toExponential(1)}`);
    tf.dispose([x, dy, a, b]);
  }
})();
