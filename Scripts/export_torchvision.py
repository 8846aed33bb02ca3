#!/usr/bin/env python3
"""Export a torchvision classification model's state dict as a LiftCAM weight directory.

A weight directory holds one NumPy .npy file per PyTorch state-dict key, named "<key>.npy"
("features.0.weight.npy", "layer1.0.bn1.running_var.npy"); LiftCAM's WeightDirectory reads it.
Floating-point tensors are saved as little-endian float32 in C order. Integer tensors keep their
dtype as in the state dict: batch-norm's int64 "num_batches_tracked" counters, which LiftCAM
skips (any other integer tensor is reported here, and refused by LiftCAM).

Usage (python3 with torch, torchvision and numpy):

    # torchvision's default ImageNet weights (downloaded, or taken from the torch hub cache)
    python3 Scripts/export_torchvision.py --model vgg16 --pretrained --out weights/vgg16

    # torchvision's own random initialization after torch.manual_seed(SEED)
    python3 Scripts/export_torchvision.py --model resnet18 --random --seed 0 --out /tmp/resnet18

    # a different number of classes (random weights only)
    python3 Scripts/export_torchvision.py --model resnet50 --random --num-classes 10 --out /tmp/r50

    # a state dict saved with torch.save(model.state_dict(), FILE), or a checkpoint dict holding
    # it under "state_dict" or "model"; a "module." prefix (DataParallel) is removed
    python3 Scripts/export_torchvision.py --state-dict checkpoint.pt --out weights/mine

If OUT already holds .npy files the export stops, unless --overwrite is given: then those files
are removed first, so the directory holds exactly the exported state dict (LiftCAM reports files
a model does not use as unexpected tensors). Each file is written to a temporary name and renamed,
so an interrupted export never leaves a half-written .npy file.
"""
import argparse
import os
import sys

import numpy as np
import torch


def load_state_dict(args):
    """The state dict the arguments ask for, as {key: tensor} in the model's order."""
    if args.state_dict:
        loaded = torch.load(args.state_dict, map_location="cpu", weights_only=True)
        for wrapper in ("state_dict", "model"):
            if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
                loaded = loaded[wrapper]
        if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
            sys.exit(f"{args.state_dict}: not a state dict (a dict of tensors)")
        if loaded and all(key.startswith("module.") for key in loaded):
            loaded = {key[len("module."):]: value for key, value in loaded.items()}
        return loaded

    import torchvision

    if args.model not in torchvision.models.list_models(module=torchvision.models):
        sys.exit(f"--model {args.model}: not a torchvision classification model "
                 f"(see torchvision.models.list_models(module=torchvision.models))")
    options = {}
    if args.num_classes is not None:
        if args.pretrained:
            sys.exit("--num-classes: pretrained weights have 1000 classes; use it with --random")
        options["num_classes"] = args.num_classes
    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(args.model, weights="DEFAULT" if args.pretrained else None, **options)
    return model.eval().state_dict()


def as_array(key, tensor):
    """The tensor as the numpy array to save: float32 for floating types, integers unchanged."""
    # np.asarray with order="C", not np.ascontiguousarray, which turns 0-d tensors (such as
    # num_batches_tracked) into shape (1,).
    tensor = tensor.detach().cpu().contiguous()
    if tensor.is_floating_point():
        return np.asarray(tensor.to(torch.float32).numpy(), dtype="<f4", order="C")
    if not key.endswith("num_batches_tracked"):
        print(f"warning: {key} is {tensor.dtype}; LiftCAM reads only floating-point tensors", file=sys.stderr)
    array = tensor.numpy()
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pretrained", action="store_true", help="torchvision's default ImageNet weights")
    source.add_argument("--random", action="store_true", help="torchvision's random initialization")
    source.add_argument("--state-dict", metavar="FILE.pt", help="a state dict saved with torch.save")
    parser.add_argument("--model", help="torchvision model name, e.g. vgg16, resnet50 (with --pretrained/--random)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for --random (default 0)")
    parser.add_argument("--num-classes", type=int, help="classifier outputs for --random (default 1000)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the weight directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace the .npy files already in DIR")
    args = parser.parse_args()
    if not args.state_dict and not args.model:
        parser.error("--model is required with --pretrained or --random")
    if args.state_dict and args.model:
        parser.error("--model and --state-dict exclude each other")

    state = load_state_dict(args)
    for key in state:
        if not key or key.startswith(".") or "/" in key:
            sys.exit(f"state-dict key {key!r} cannot be a file name")

    os.makedirs(args.out, exist_ok=True)
    existing = sorted(name for name in os.listdir(args.out) if name.endswith(".npy"))
    if existing and not args.overwrite:
        sys.exit(f"{args.out}: already holds {len(existing)} .npy files (e.g. {existing[0]}); "
                 f"pass --overwrite to replace them")
    for name in existing:
        os.remove(os.path.join(args.out, name))

    parameters = 0
    size = 0
    for key, tensor in state.items():
        array = as_array(key, tensor)
        path = os.path.join(args.out, key + ".npy")
        temporary = path + f".tmp-{os.getpid()}"
        with open(temporary, "wb") as f:
            np.save(f, array)
        os.replace(temporary, path)
        if array.dtype.kind == "f":
            parameters += array.size
        size += os.path.getsize(path)
    print(f"{args.out}: {len(state)} tensors, {parameters:,} float32 values, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
