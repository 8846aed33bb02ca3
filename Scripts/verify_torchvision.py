#!/usr/bin/env python3
"""Checks LiftCAM's logits against PyTorch on full-size torchvision models (issue: the engine).

For each model, seeded random weights (torchvision's own initialisation, then every batch-norm
given random statistics so it is not the identity) are exported to a weight directory, a random
input is saved as .npy at 224x224 and at a non-square 160x200, and `liftcam forward` is compared
with PyTorch: max |logit difference| / max |logit|. Needs torch/torchvision and a release build:

    swift build -c release
    python3 Scripts/verify_torchvision.py [--models vgg16,resnet50] [--keep DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def randomised(name, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = 0.5 + torch.rand(c, generator=generator)
            module.bias.data = 0.1 * torch.randn(c, generator=generator)
            module.running_mean.data = 0.1 * torch.randn(c, generator=generator)
            module.running_var.data = 0.5 + 1.5 * torch.rand(c, generator=generator)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="vgg16,resnet50")
    parser.add_argument("--keep", help="keep the exported weights here instead of a temporary directory")
    args = parser.parse_args()
    binary = os.path.join(ROOT, ".build", "release", "liftcam")
    if not os.path.exists(binary):
        sys.exit("build first: swift build -c release")
    torch.set_num_threads(2)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or scratch
        for name in args.models.split(","):
            model = randomised(name, seed=0)
            weights = os.path.join(base, name)
            os.makedirs(weights, exist_ok=True)
            for key, value in model.state_dict().items():
                array = value.detach().numpy()
                np.save(os.path.join(weights, key + ".npy"), array.astype(np.float32) if array.dtype.kind == "f" else array)
            for height, width in [(224, 224), (160, 200)]:
                x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(height))
                path = os.path.join(base, f"{name}_{height}x{width}.npy")
                np.save(path, x.numpy())
                start = time.perf_counter()
                with torch.no_grad():
                    expected = model(x)[0].numpy()
                torch_seconds = time.perf_counter() - start
                start = time.perf_counter()
                out = subprocess.run([binary, "forward", "--arch", name, "--weights", weights, "--input", path, "--json", "-"],
                                     check=True, capture_output=True, text=True).stdout
                swift_seconds = time.perf_counter() - start
                logits = np.array(json.loads(out)["logits"], dtype=np.float64)
                error = np.abs(logits - expected).max() / np.abs(expected).max()
                rows.append((name, f"{height}x{width}", error, torch_seconds, swift_seconds))
                print(f"{name:10s} {height}x{width}: max|Δ|/max|logit| = {error:.2e}   "
                      f"torch {torch_seconds:.3f} s, liftcam forward (whole process, incl. loading) {swift_seconds:.3f} s", flush=True)
    worst = max(r[2] for r in rows)
    print(f"worst relative error: {worst:.2e} ({'PASS' if worst < 1e-4 else 'FAIL'} at 1e-4)")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
