"""The book's sunspot experiment (recurrent.py) in Keras 3, with Keras 2's defaults set explicitly.

Writes one results.json per seed (DIR/seed-N/results.json) (the shape `npm run experiment` writes, engine "keras"),
so the pack reads the three engines' distributions the same way (reference/README.md has the
commands). Needs a Python with TensorFlow (`.venv` after `npm run native -- --install-tensorflow
cpu`); never a dependency of the project.

  python bench/keras_sunspots.py --seeds 1-10 --out DIR [--epochs 100] [--weights-from DIR/seed-{seed}/results.json]

--weights-from starts every run from the initial weights recorded in a pack run's results.json
(`initialWeights`), so both engines train from the same point and their curves can be compared
epoch by epoch.

Keras 2 defaults that Keras 3 changed, and how they are restored here (the table is
KERAS2_DEFAULTS in src/models/keras-defaults.ts):
- LSTM gates: Keras 2's hard sigmoid clip(0.2x + 0.5, 0, 1) (Keras 3: sigmoid; its hard_sigmoid has slope 1/6);
- Adam's `decay`: lr / (1 + decay * t) as InverseTimeDecay(lr, decay_steps=1, decay_rate=decay);
- epsilon 1e-7 in Keras's placement (Keras 3's default already).
"""
import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

BOOK = {"cell": "lstm", "stacked": False, "protocol": "book", "epochs": 100, "units": 4, "window": 15, "batchSize": 20,
        "trainEnd": 2300, "testEnd": 2800, "learningRate": 1e-3, "decay": 1e-4}
BOOK_MSE = {1: 0.1827, 2: 0.1522, 3: 0.1154, 100: 0.0247}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keras2_hard_sigmoid(x):
    """Keras 2's hard sigmoid (slope 0.2), the default gate activation of its LSTM."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def load_windows(s):
    """The book's data: MinMax to (-1, 1) on the whole series, windows of 15 predicting the next month."""
    values = np.loadtxt(os.path.join(ROOT, "data", "sunspots.csv"), delimiter=",", skiprows=1, usecols=1, dtype=np.float64)
    lo, hi = values.min(), values.max()
    scaled = ((values - lo) / (hi - lo) * 2 - 1).astype(np.float32)
    w = s["window"]
    count = len(scaled) - w
    x = np.stack([scaled[i:i + w] for i in range(count)])[:, :, None]
    y = scaled[w:w + count][:, None]
    return (x[:s["trainEnd"]], y[:s["trainEnd"]]), (x[s["trainEnd"]:s["testEnd"]], y[s["trainEnd"]:s["testEnd"]])


def build(s):
    model = keras.Sequential([
        keras.Input(batch_shape=(s["batchSize"], s["window"], 1)),
        layers.LSTM(s["units"], stateful=True, recurrent_activation=keras2_hard_sigmoid),
        layers.Dense(1),
        layers.Activation("tanh"),
    ])
    lr = keras.optimizers.schedules.InverseTimeDecay(s["learningRate"], decay_steps=1, decay_rate=s["decay"])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7), loss="mse")
    return model


def set_initial_weights(model, record_path):
    """Copies a pack run's initial weights (kernel, recurrent kernel, bias, dense kernel, dense bias; same layouts)."""
    with open(record_path) as f:
        w = json.load(f)["initialWeights"]
    shapes = [v.shape for v in model.get_weights()]
    values = [np.asarray(w[k]["values"], dtype=np.float32).reshape(shape) for k, shape in zip(sorted(w, key=lambda k: w[k]["order"]), shapes)]
    model.set_weights(values)


def run(seed, s, data, weights_from):
    keras.utils.set_random_seed(seed)
    (xt, yt), (xv, yv) = data
    model = build(s)
    if weights_from:
        set_initial_weights(model, weights_from)
    start = time.perf_counter()
    h = model.fit(xt, yt, batch_size=s["batchSize"], epochs=s["epochs"], shuffle=False, validation_data=(xv, yv), verbose=0)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vs] for k, vs in h.history.items() if k in ("loss", "val_loss")}
    val = history["val_loss"]
    metrics = {"val_mse": val[-1], "epochs": len(val), "seconds_per_epoch": seconds / len(val)}
    for e in BOOK_MSE:
        if len(val) >= e:
            metrics[f"val_mse_epoch_{e}"] = val[e - 1]
    return {
        "experiment": "sunspots lstm book", "engine": "keras", "mode": "cli", "settings": {**s, "seed": seed}, "seed": seed,
        "backend": f"keras {keras.__version__} / TensorFlow {tf.__version__} (CPU, compiled graph)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "python": sys.version.split()[0]},
        "split": "R datasets::sunspots; windows of 15: train [0, 2300), test [2300, 2800); scaler fitted on the whole series",
        "startedFrom": os.path.relpath(weights_from, ROOT) if weights_from else "keras initialisers",
        "metrics": metrics, "book": {"val_mse": BOOK_MSE[100], **{f"val_mse_epoch_{e}": v for e, v in BOOK_MSE.items()}},
        "history": history, "charts": {},
    }


def seed_list(text):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(t) for t in text.split(",")]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=seed_list, required=True, help="e.g. 1-10 or 1,5,7")
    p.add_argument("--out", required=True, help="folder for seed-N/results.json")
    p.add_argument("--epochs", type=int, default=BOOK["epochs"])
    p.add_argument("--weights-from", help="a pack results.json with initialWeights; {seed} is replaced by the seed")
    a = p.parse_args()
    s = {**BOOK, "epochs": a.epochs}
    data = load_windows(s)
    for seed in a.seeds:
        record = run(seed, s, data, a.weights_from.replace("{seed}", str(seed)) if a.weights_from else None)
        path = os.path.join(a.out, f"seed-{seed}", "results.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(record, f, indent=1)
        print(f"seed {seed}: val_mse {record['metrics']['val_mse']:.4f} ({record['metrics']['seconds_per_epoch']:.2f} s/epoch) -> {path}", flush=True)


if __name__ == "__main__":
    main()
