"""Keras baseline for `npm run bench`: the same models, batch sizes and optimizer, timed the same way.

Prints one JSON object: {"tensorflow": version, "models": {name: {"ms_per_step": median, "samples_per_s": ...}},
"eager": {...the same with run_eagerly=True, when the config asks for it}}.
Run by src/cli/bench.ts only when `import tensorflow` works; never a dependency of the project.
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def mnist_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Dropout(0.25),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.Dropout(0.5),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.Dropout(0.5),
        layers.AveragePooling2D(2, padding="same"),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.AveragePooling2D(2, padding="same"),
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.Dropout(0.5),
        layers.AveragePooling2D(2, padding="same"), layers.Flatten(),
        layers.Dense(1024, activation="relu"), layers.Dropout(0.5), layers.Dense(10, activation="softmax"),
    ])


def fashion_cnn():
    def block(layer):
        return [layer, layers.BatchNormalization(), layers.LeakyReLU(0.1)]
    return keras.Sequential([keras.Input((28, 28, 1))]
                            + block(layers.Conv2D(32, 3, padding="same")) + block(layers.Conv2D(64, 3, padding="same"))
                            + [layers.MaxPooling2D(2)]
                            + block(layers.Conv2D(64, 3, padding="same")) + block(layers.Conv2D(128, 3, padding="same"))
                            + block(layers.Conv2D(128, 3, padding="same")) + [layers.MaxPooling2D(2), layers.Flatten()]
                            + block(layers.Dense(1024)) + block(layers.Dense(1024)) + [layers.Dense(10, activation="softmax")])


def sunspot(cell):
    rnn = layers.LSTM if cell == "lstm" else layers.GRU
    return keras.Sequential([keras.Input((15, 1), batch_size=20), rnn(4, stateful=True), layers.Dense(1), layers.Activation("tanh")])


def main():
    cfg = json.loads(sys.argv[1])
    builders = {"mnist": (mnist_cnn, 256, "cnn"), "fashion": (fashion_cnn, 256, "cnn"), "lstm": (lambda: sunspot("lstm"), 20, "rnn"), "gru": (lambda: sunspot("gru"), 20, "rnn")}
    out = {"tensorflow": tf.__version__, "models": {}}
    rng = np.random.default_rng(0)
    runs = [(name, False) for name in cfg["models"]] + [(name, True) for name in cfg.get("eager", [])]
    for name, eager in runs:
        build, batch, kind = builders[name]
        model = build()
        if kind == "cnn":
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", run_eagerly=eager)
            x = rng.random((batch, 28, 28, 1), dtype=np.float32)
            y = keras.utils.to_categorical(rng.integers(0, 10, batch), 10)
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", run_eagerly=eager)
            x = rng.random((batch, 15, 1), dtype=np.float32)
            y = rng.random((batch, 1), dtype=np.float32)
        for _ in range(cfg["warmup"]):
            model.train_on_batch(x, y)
        times = []
        deadline = time.perf_counter() + cfg["budget_s"]
        while len(times) < cfg["steps"] and (len(times) < 3 or time.perf_counter() < deadline):
            t = time.perf_counter()
            model.train_on_batch(x, y)
            times.append((time.perf_counter() - t) * 1000)
        ms = statistics.median(times)
        out.setdefault("eager" if eager else "models", {})[name] = {"ms_per_step": ms, "samples_per_s": batch * 1000 / ms, "steps": len(times)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
