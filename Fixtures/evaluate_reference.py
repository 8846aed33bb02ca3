#!/usr/bin/env python3
"""PyTorch reference for `liftcam evaluate` (issue: evaluation): the paper's Section 4 metrics over
the first N images of the fixture dataset, for LIFT-CAM (Captum DeepLift on the head, zero baseline)
and Grad-CAM, computed independently of the Swift code from the definitions in SPEC.md.

Writes Fixtures/reference/evaluate_vgg_digits.json:
  {"images": N, "methods": {"lift": {"iic", "ad", "add", "insertion_auc", "deletion_auc",
   "energy_pointing_game"}, "gradcam": {...}}}
Run by hand after generate.py (needs torch, torchvision, captum); CI never runs it.
"""
import csv
import importlib.util
import json
import os

import numpy as np
import torch
from captum.attr import DeepLift
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("generate", os.path.join(HERE, "generate.py"))
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)

IMAGES = 24


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    arch = json.load(open(os.path.join(HERE, "models", "vgg_digits", "arch.json")))
    model = generate.reload("vgg_digits", arch)
    layer = generate.default_layer(model, arch)
    body, head = generate.split(model, arch, layer)
    rows = list(csv.DictReader(open(os.path.join(HERE, "data", "digits", "manifest.csv"))))[:IMAGES]
    per_method = {"lift": [], "gradcam": []}
    for row in rows:
        pixels = np.asarray(Image.open(os.path.join(HERE, "data", "digits", row["file"])).convert("RGB"))
        x = torch.from_numpy(generate.preprocess(pixels))
        with torch.no_grad():
            logits = model(x[None])[0]
            A = body(x[None])[0]
        c = int(logits.argmax())                       # target: the predicted class
        leaf = A.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(head(leaf[None])[0, c], leaf)
        contributions = DeepLift(generate.captum_head(head)).attribute(
            A[None].clone(), baselines=torch.zeros_like(A[None]), target=c)[0].detach()
        alphas = {"lift": generate.coefficients_lift(contributions.numpy()),
                  "gradcam": generate.coefficients_gradcam(A.numpy(), gradient.numpy())}
        box = [int(row[k]) if row[k] != "" else 0 for k in ("x_min", "y_min", "x_max", "y_max")]
        for name, alpha in alphas.items():
            sal = generate.saliency(generate.cam(alpha, A.numpy()), tuple(x.shape[1:]))
            per_method[name].append(generate.metrics(model, x, sal, c, box))
    result = {"images": len(rows), "methods": {}}
    for name, scores in per_method.items():
        Y = np.array([s["Y"] for s in scores]); O = np.array([s["O"] for s in scores]); D = np.array([s["D"] for s in scores])
        pointing = [s["energy_pointing_game"] for s in scores if s["energy_pointing_game"] is not None]
        result["methods"][name] = {
            "iic": float(np.mean(Y < O) * 100),                       # Eq 12
            "ad": float(np.mean(np.maximum(0, Y - O) / Y) * 100),      # Eq 13
            "add": float(np.mean((Y - D) / Y) * 100),                  # Eq 14
            "insertion_auc": float(np.mean([s["insertion_auc"] for s in scores])),
            "deletion_auc": float(np.mean([s["deletion_auc"] for s in scores])),
            "energy_pointing_game": float(np.mean(pointing)) if pointing else None,   # Eq 15
        }
    out = os.path.join(HERE, "reference", "evaluate_vgg_digits.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}: {json.dumps(result)}")


if __name__ == "__main__":
    main()
