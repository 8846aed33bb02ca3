#!/usr/bin/env python3
"""Full-size check of ONNX import: torchvision models at 224x224 through PyTorch, ONNX Runtime and
(optionally) `liftcam forward --arch model.onnx`. Run by hand.

For each model: seeded random weights with randomised batch-norm statistics
(Scripts/export_onnx.py's random_model), exported with the legacy exporter (batch-norm folded, or
kept with --keep-batchnorm) with the liftcam.* metadata; one seeded N(0,1) input [1,3,224,224]
saved as .npy; logits from PyTorch, from ONNX Runtime (1 thread) and, with --liftcam PATH, from

    PATH forward --arch <model>.onnx --input x.npy --json -      (prints {"logits": [...]})

Differences are max |a - b| / max |b| over the 1000 logits; pass at 1e-4 (ORT against PyTorch,
LiftCAM against ORT).

    python3 Scripts/compare_onnx_models.py [--models mobilenet_v2,resnet50] [--liftcam .build/release/liftcam]
        [--keep DIR] [--keep-batchnorm] [--opset 17] [--seed 0]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_onnx  # noqa: E402

MODELS = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_1",
          "shufflenet_v2_x1_0", "densenet121", "regnet_y_400mf", "vgg16", "resnet50"]
TOLERANCE = 1e-4


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def ort_logits(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {export_onnx.INPUT_NAME: x})[0][0]


def liftcam_logits(binary, path, input_path):
    """`liftcam forward --arch model.onnx --input x.npy --json -`; None and the error text if it fails."""
    run = subprocess.run([binary, "forward", "--arch", path, "--input", input_path, "--json", "-"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        message = (run.stderr.strip() or run.stdout.strip()).splitlines()[-1:]
        return None, message or [f"exit code {run.returncode}"]
    return np.array(json.loads(run.stdout)["logits"], dtype=np.float64), None


def check(name, directory, args):
    """Export one model and compare; returns the table row."""
    t0 = time.time()
    model = export_onnx.random_model(name, seed=args.seed)
    path = os.path.join(directory, f"{name}.onnx")
    layer, module = export_onnx.export_with_metadata(model, path, (224, 224), args.opset, args.keep_batchnorm,
                                                     seed=args.seed)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(args.seed + 224)).numpy()
    input_path = os.path.join(directory, f"{name}_input.npy")
    np.save(input_path, x)
    with torch.no_grad():
        expected = model(torch.from_numpy(x))[0].numpy()
    ort_out = ort_logits(path, x)
    row = {"model": name, "bytes": os.path.getsize(path), "module": module, "layer": layer,
           "ort_vs_torch": relative(ort_out, expected), "liftcam_vs_ort": None, "error": None}
    if args.liftcam:
        logits, error = liftcam_logits(args.liftcam, path, input_path)
        if logits is None:
            row["error"] = " ".join(error)
        else:
            row["liftcam_vs_ort"] = relative(logits, ort_out)
    if not args.keep:
        os.remove(path)
    row["seconds"] = time.time() - t0
    return row


def verdict(row, with_liftcam):
    ok = row["ort_vs_torch"] < TOLERANCE
    if with_liftcam:
        ok = ok and row["liftcam_vs_ort"] is not None and row["liftcam_vs_ort"] < TOLERANCE
    return "pass" if ok else "FAIL"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--liftcam", help="path of the liftcam binary (omit for the PyTorch/ORT columns only)")
    parser.add_argument("--keep", help="keep the .onnx files and inputs here")
    parser.add_argument("--keep-batchnorm", action="store_true")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or scratch
        os.makedirs(directory, exist_ok=True)
        print(f"{'model':20s} {'ORT vs PyTorch':>15s} {'LiftCAM vs ORT':>15s}  result  seconds  default layer", flush=True)
        for name in args.models.split(","):
            row = check(name, directory, args)
            rows.append(row)
            lift = ("-" if not args.liftcam else f"{row['liftcam_vs_ort']:.2e}" if row["liftcam_vs_ort"] is not None
                    else "error")
            print(f"{name:20s} {row['ort_vs_torch']:15.2e} {lift:>15s}  {verdict(row, bool(args.liftcam)):6s} "
                  f"{row['seconds']:7.1f}  {row['module']} -> {row['layer']}", flush=True)
            if row["error"]:
                print(f"    liftcam: {row['error']}", flush=True)
    failed = [r["model"] for r in rows if verdict(r, bool(args.liftcam)) != "pass"]
    print(f"{len(rows) - len(failed)}/{len(rows)} pass at {TOLERANCE:g}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
