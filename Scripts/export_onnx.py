#!/usr/bin/env python3
"""Export a torchvision classification model to ONNX for `liftcam ... --arch model.onnx`.

Seeded random weights (torchvision's own initialisation under torch.manual_seed(seed)), then every
BatchNorm2d given random statistics so a wrong batch-norm folding shows in the logits:
weight ~ U(0.5, 1.5), bias ~ N(0, 0.1), running_mean ~ N(0, 0.1), running_var ~ U(0.5, 1.5).
`--pretrained` loads torchvision's ImageNet weights instead (needs them downloadable).

Exporter: the legacy TorchScript exporter (`dynamo=False`). By default it runs in eval mode with
constant folding, which folds each BatchNorm that follows a Conv into the Conv and turns shape
arithmetic into constants. `--keep-batchnorm` exports with `do_constant_folding=False` and
`training=TrainingMode.PRESERVE` on the eval-mode model: every BatchNormalization node stays
(training_mode = 0, running statistics as initializers) and Shape/Gather/Concat shape arithmetic
stays in the graph. `--dynamo` uses the torch.export-based exporter instead (it needs the
onnxscript package, which was not installed where these scripts were written, so it is untested).

Metadata written into the file (metadata_props):
  liftcam.default_layer  ONNX tensor name of the default CAM layer's output, found by running the
                         PyTorch model with a forward hook on that module and ONNX Runtime with every
                         intermediate tensor exposed, and taking the tensor equal to the hook's output
                         that cuts the graph (every path from the image to the logits passes through
                         it); the last produced one if several qualify
  liftcam.torch_module   the module path that was hooked (e.g. features.18, layer4, conv5)
  liftcam.classes        class names, newline-joined (torchvision's ImageNet categories for 1000)
  liftcam.input_shape    "3,224,224"
  liftcam.mean, liftcam.std   ImageNet normalisation, comma-joined
  liftcam.family         mobilenet_v2, mobilenet_v3, efficientnet, squeezenet, shufflenet_v2,
                         densenet, regnet, vgg, resnet

Usage:
  python3 Scripts/export_onnx.py --model mobilenet_v2 --out m.onnx [--width-mult 0.5] [--reduced]
      [--size 224] [--classes 1000] [--seed 0] [--opset 17] [--keep-batchnorm | --dynamo] [--pretrained]

PyTorch is used only here (and in the fixture scripts), never when LiftCAM runs.
"""
import argparse
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torchvision

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_NAME, OUTPUT_NAME = "input", "logits"

FAMILIES = {  # torchvision class name -> family
    "MobileNetV2": "mobilenet_v2", "MobileNetV3": "mobilenet_v3", "EfficientNet": "efficientnet",
    "SqueezeNet": "squeezenet", "ShuffleNetV2": "shufflenet_v2", "DenseNet": "densenet",
    "RegNet": "regnet", "VGG": "vgg", "ResNet": "resnet",
}


def family(model):
    """The family name of a torchvision model instance (by its class)."""
    for cls in type(model).__mro__:
        if cls.__name__ in FAMILIES:
            return FAMILIES[cls.__name__]
    raise ValueError(f"unsupported model class {type(model).__name__}")


def default_module(model):
    """The module whose output is the default CAM layer, as pytorch-grad-cam users pick it:
    features[-1] (MobileNet, EfficientNet), features (SqueezeNet; DenseNet: before the final F.relu),
    conv5 (ShuffleNet), trunk_output (RegNet), the last ReLU of features (VGG, features.29 in vgg16),
    layer4 (ResNet)."""
    kind = family(model)
    if kind in ("mobilenet_v2", "mobilenet_v3", "efficientnet"):
        return f"features.{len(model.features) - 1}"
    if kind in ("squeezenet", "densenet"):
        return "features"
    if kind == "vgg":
        return f"features.{max(i for i, m in enumerate(model.features) if isinstance(m, nn.ReLU))}"
    return {"shufflenet_v2": "conv5", "regnet": "trunk_output", "resnet": "layer4"}[kind]


def build(name, classes=1000, width_mult=None, reduced=False, pretrained=False):
    """torchvision.models.<name> with `classes` outputs; width_mult for the MobileNets, reduced_tail
    for MobileNetV3."""
    kwargs = {}
    if width_mult is not None:
        kwargs["width_mult"] = width_mult
    if reduced:
        kwargs["reduced_tail"] = True
    if pretrained:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        model = torchvision.models.get_model(name, weights=weights, **kwargs)
        if classes != 1000:
            raise ValueError("--pretrained needs --classes 1000")
        return model.eval()
    return torchvision.models.get_model(name, weights=None, num_classes=classes, **kwargs).eval()


def randomise_batchnorm(model, seed):
    """Random affine parameters and running statistics for every BatchNorm2d (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(c, generator=generator))
                module.bias.copy_(0.1 * torch.randn(c, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(c, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(c, generator=generator))
    return model


def random_model(name, seed=0, **kwargs):
    """build() under torch.manual_seed(seed), then randomise_batchnorm(seed + 1)."""
    torch.manual_seed(seed)
    return randomise_batchnorm(build(name, **kwargs), seed + 1)


def class_names(classes):
    """torchvision's ImageNet categories for 1000 classes, else "0".."N-1"."""
    if classes == 1000:
        return list(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    return [str(i) for i in range(classes)]


def export(model, path, size=(224, 224), opset=17, keep_batchnorm=False, dynamo=False):
    """torch.onnx.export (the legacy exporter unless dynamo), input "input" [1,3,H,W], output
    "logits" [1,classes]."""
    x = torch.zeros(1, 3, *size)
    options = dict(do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE) if keep_batchnorm else {}
    if dynamo:
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise SystemExit("--dynamo needs the onnxscript package (pip install onnxscript)")
        options = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(model.eval(), (x,), path, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          opset_version=opset, dynamo=dynamo, **options)


def run_all_tensors(path, x):
    """ONNX Runtime on `x` [1,3,H,W] with every node output exposed (no graph optimisation):
    ({tensor name: value}, [tensor names in production order])."""
    model = onnx.load(path)
    names = [o for node in model.graph.node for o in node.output if o]
    existing = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in existing)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    values = dict(zip(outputs, session.run(None, {INPUT_NAME: x})))
    return values, names


def module_output(model, module_path, x):
    """The output of `module_path` when the PyTorch model runs on x (forward hook)."""
    captured = {}

    def hook(_module, _inputs, output):  # returns None: a returned value would replace the output
        captured["out"] = output.detach().clone()  # cloned before any in-place op downstream

    handle = model.get_submodule(module_path).register_forward_hook(hook)
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
    handle.remove()
    return captured["out"].numpy(), logits.numpy()


def is_cut(model, tensor):
    """Whether every path from the graph input to the logits passes through `tensor`: walking back
    from the logits and stopping at `tensor`, no node reads the image."""
    producer = {o: node for node in model.graph.node for o in node.output}
    seen, stack = set(), [OUTPUT_NAME]
    while stack:
        name = stack.pop()
        if name == tensor or name in seen:
            continue
        seen.add(name)
        if name == INPUT_NAME:
            return False
        if name in producer:
            stack.extend(i for i in producer[name].input if i)
    return True


def matching_tensor(values, order, target, model, tolerance=1e-4):
    """The ONNX tensor equal to `target` (max |diff| <= tolerance * max |target|) among the float
    tensors of the same shape that cut the graph (is_cut); the last produced one if several match
    (e.g. an output and a copy of it). Returns (name, every equal tensor, cut or not)."""
    scale = max(float(np.abs(target).max()), 1e-6)
    equal = [n for n in order if n in values and isinstance(values[n], np.ndarray)
             and values[n].dtype == np.float32 and values[n].shape == target.shape
             and float(np.abs(values[n] - target).max()) <= tolerance * scale]
    cuts = [n for n in equal if is_cut(model, n)]
    if not cuts:
        raise RuntimeError(f"no ONNX tensor of shape {target.shape} that cuts the graph matches the "
                           f"hooked output (equal but not cuts: {equal})")
    return cuts[-1], equal


def find_layer(path, model, module_path, x, values=None, order=None):
    """ONNX tensor name of `module_path`'s output (see matching_tensor); also returns every match."""
    if values is None:
        values, order = run_all_tensors(path, x)
    target, _ = module_output(model, module_path, x)
    return matching_tensor(values, order, target, onnx.load(path))


def write_metadata(path, properties):
    """Set metadata_props (replacing keys already there) and save the file in place."""
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    props.update(properties)
    del model.metadata_props[:]
    for key in sorted(props):
        model.metadata_props.add(key=key, value=props[key])
    onnx.save(model, path)


def export_with_metadata(model, path, size=(224, 224), opset=17, keep_batchnorm=False, classes=None, seed=0,
                         dynamo=False):
    """Export, locate the default layer's tensor with a seeded N(0,1) probe input, write the
    liftcam.* metadata. Returns (layer tensor name, hooked module path)."""
    export(model, path, size, opset, keep_batchnorm, dynamo)
    probe = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(seed + 7)).numpy()
    module_path = default_module(model)
    layer, _ = find_layer(path, model, module_path, probe)
    n_classes = model(torch.zeros(1, 3, *size)).shape[1] if classes is None else len(classes)
    write_metadata(path, {
        "liftcam.default_layer": layer,
        "liftcam.torch_module": module_path,
        "liftcam.classes": "\n".join(classes or class_names(n_classes)),
        "liftcam.input_shape": f"3,{size[0]},{size[1]}",
        "liftcam.mean": ",".join(str(v) for v in IMAGENET_MEAN),
        "liftcam.std": ",".join(str(v) for v in IMAGENET_STD),
        "liftcam.family": family(model),
    })
    return layer, module_path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="torchvision model name, e.g. mobilenet_v2")
    parser.add_argument("--out", required=True)
    parser.add_argument("--width-mult", type=float, help="MobileNetV2/V3 width multiplier")
    parser.add_argument("--reduced", action="store_true", help="MobileNetV3 reduced_tail")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--keep-batchnorm", action="store_true",
                        help="keep BatchNormalization nodes (no constant folding, TrainingMode.PRESERVE)")
    parser.add_argument("--dynamo", action="store_true", help="the torch.export-based exporter (needs onnxscript)")
    parser.add_argument("--pretrained", action="store_true", help="torchvision's ImageNet weights")
    args = parser.parse_args()
    torch.set_num_threads(1)
    kwargs = dict(classes=args.classes, width_mult=args.width_mult, reduced=args.reduced)
    model = build(args.model, pretrained=True, **kwargs) if args.pretrained else random_model(args.model, args.seed, **kwargs)
    layer, module_path = export_with_metadata(model, args.out, (args.size, args.size), args.opset,
                                              args.keep_batchnorm, seed=args.seed, dynamo=args.dynamo)
    print(f"{args.out}: {os.path.getsize(args.out):,} B, default layer {module_path} -> ONNX tensor {layer!r}")


if __name__ == "__main__":
    main()
