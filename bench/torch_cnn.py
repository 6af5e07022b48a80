"""PyTorch's time per training step of the chapter's MNIST and Fashion-MNIST CNNs, the baseline the
GPU check (npm run gpu-check) prints beside WebGPU's on the same GPU.

The networks are the pack's (src/models/cnn.ts) layer for layer: same shapes, Keras's
BatchNormalization (momentum 0.99 = PyTorch's 0.01, epsilon 1e-3), average pooling with "same"
padding (ceil mode, padded cells left out of the average), Adam 1e-3 with epsilon 1e-7, batch 256 of
random data, as npm run bench times them. Prints one JSON line:
{"torch": version, "device": name, "models": {"mnist": {"ms_per_step", "samples_per_s"}, ...}}.

Usage: python3 torch_cnn.py [--steps N] [--device cuda|cpu] [--models mnist,fashion]
"""
import argparse
import json
import time

import torch
from torch import nn

BATCH = 256


def mnist_cnn():
    def conv(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]

    def pool():
        return nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)

    return nn.Sequential(
        nn.Dropout(0.25), *conv(1, 16), nn.Dropout(0.5), *conv(16, 32), nn.Dropout(0.5), pool(),
        *conv(32, 64), pool(), *conv(64, 64), nn.Dropout(0.5), pool(), nn.Flatten(),
        nn.Linear(4 * 4 * 64, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))


def fashion_cnn():
    def block(layer, width, two_d=True):
        norm = nn.BatchNorm2d(width, eps=1e-3, momentum=0.01) if two_d else nn.BatchNorm1d(width, eps=1e-3, momentum=0.01)
        return [layer, norm, nn.LeakyReLU(0.1)]

    return nn.Sequential(
        *block(nn.Conv2d(1, 32, 3, padding=1), 32), *block(nn.Conv2d(32, 64, 3, padding=1), 64), nn.MaxPool2d(2),
        *block(nn.Conv2d(64, 64, 3, padding=1), 64), *block(nn.Conv2d(64, 128, 3, padding=1), 128),
        *block(nn.Conv2d(128, 128, 3, padding=1), 128), nn.MaxPool2d(2), nn.Flatten(),
        *block(nn.Linear(7 * 7 * 128, 1024), 1024, False), *block(nn.Linear(1024, 1024), 1024, False), nn.Linear(1024, 10))


MODELS = {"mnist": mnist_cnn, "fashion": fashion_cnn}


def time_steps(build, device, steps):
    """Median milliseconds of one optimizer step after 3 warm-up steps."""
    torch.manual_seed(1)
    model = build().to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    ms = times[len(times) // 2]
    return {"ms_per_step": round(ms, 3), "samples_per_s": round(BATCH * 1000 / ms, 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="mnist,fashion")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    results = {m: time_steps(MODELS[m], device, args.steps) for m in args.models.split(",")}
    print(json.dumps({"torch": torch.__version__, "device": name, "batch": BATCH, "models": results}))


if __name__ == "__main__":
    main()
