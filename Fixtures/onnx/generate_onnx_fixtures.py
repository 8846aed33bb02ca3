#!/usr/bin/env python3
"""Small ONNX models of the torchvision families LiftCAM imports, and reference outputs for them.

Run by hand (never by CI), from anywhere:  python3 Fixtures/onnx/generate_onnx_fixtures.py
It deletes and rewrites Fixtures/onnx/models and Fixtures/onnx/reference. Fixtures/onnx/README.md
documents every file and convention.

For each reduced-width torchvision model (seeded random weights, randomised batch-norm statistics,
exported with Scripts/export_onnx.py's functions) and each split module, a case holds the input,
PyTorch's and ONNX Runtime's logits, the activations A at the split (an ONNX tensor, found by
matching a forward hook against ONNX Runtime's intermediate tensors), dF^c/dA, the DeepLIFT
contributions of A against the reference A = 0 and the coefficients of every CAM method.

The DeepLIFT contributions are this script's own transcription of LiftCAM's rules (the head is
traced with torch.fx and run on the batch [A, 0] with a custom autograd Function per nonlinearity):
  - Rescale, m = dy/dx, for every elementwise nonlinearity (ReLU, ReLU6, Sigmoid, Hardsigmoid,
    Hardswish, SiLU, Tanh), the gradient at A where |dx| < 1e-10 (Captum's eps);
  - max-pool: Captum's rule, with the routed amounts ADDED where windows overlap;
  - z = x*y of two tensors that both depend on A (squeeze-and-excitation): the two-player Shapley
    split m_x = (y + y0)/2 m_z, m_y = (x + x0)/2 m_z;
  - every other op (conv, batch-norm, linear, average pools, add, concat, reshape, transpose,
    chunk, flatten, dropout, stochastic depth) by its gradient.
Checked against Captum's DeepLift where Captum has the rules (heads of ReLU/Sigmoid/MaxPool only).
Deterministic: torch.manual_seed per model, one thread, deterministic algorithms.
"""

import copy
import json
import math
import operator
import os
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from captum.attr import DeepLift
from torchvision.models import VGG
from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
from torchvision.models.regnet import BlockParams, RegNet
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.shufflenetv2 import ShuffleNetV2
from torchvision.models.squeezenet import Fire, SqueezeNet
from torchvision.ops.stochastic_depth import stochastic_depth

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Scripts"))
import export_onnx  # noqa: E402  (Scripts/export_onnx.py)

SEED = 20211011
SIZE = (64, 64)
CLASSES = 10
EPS = 1e-10  # Captum's DeepLift eps: below it, Rescale falls back to the gradient
SHAP_EXACT_MAX_MAPS = 12
COMPLETENESS_TOLERANCE = 1e-4
CAPTUM_TOLERANCE = 1e-5

# ---------------------------------------------------------------------------------------------
# The reduced models
# ---------------------------------------------------------------------------------------------


class TinySqueezeNet(SqueezeNet):
    """torchvision's SqueezeNet 1.1 (same forward, module names and initialisation) with every
    width divided by 4: Fire squeeze/expand widths 4/16, 8/32, 12/48, 16/64."""

    def __init__(self, num_classes):
        nn.Module.__init__(self)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 4, 16, 16), Fire(32, 4, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(32, 8, 32, 32), Fire(64, 8, 32, 32),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 12, 48, 48), Fire(96, 12, 48, 48), Fire(96, 16, 64, 64), Fire(128, 16, 64, 64))
        final_conv = nn.Conv2d(128, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():  # torchvision's SqueezeNet initialisation
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)


class TinyVGG(VGG):
    """torchvision's VGG (same forward and module names) with config [16,M,32,M,64,64,M,64,M],
    avgpool to 2x2 and classifier [256 -> 64 -> 64 -> classes]; nn.Module.__init__ is called
    directly so the 25088x4096 layer is never allocated."""

    def __init__(self, num_classes):
        nn.Module.__init__(self)
        self.features = torchvision.models.vgg.make_layers([16, "M", 32, "M", 64, 64, "M", 64, "M"])
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Linear(256, 64), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, num_classes))
        for m in self.modules():  # torchvision's VGG initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)


class TinyResNet(ResNet):
    """torchvision's ResNet (same forward, module names, blocks and initialisation) with stage
    widths 8*[1,2,4,8], Bottleneck blocks [1,1,1,1] (layer4 has 256 maps)."""

    def __init__(self, num_classes, width=8, layers=(1, 1, 1, 1)):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(Bottleneck, width, layers[0])
        self.layer2 = self._make_layer(Bottleneck, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(Bottleneck, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(Bottleneck, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def tiny_efficientnet(num_classes):
    """EfficientNet-B0's configuration builder at width 0.25, depth 0.25 (one MBConv per stage)."""
    setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    return EfficientNet(setting, dropout=0.2, num_classes=num_classes, last_channel=last_channel)


def tiny_regnet(num_classes):
    """RegNetY-style (SE ratio 0.25, group width 8) with BlockParams for depth 4, w_0 16, stem 8."""
    params = BlockParams.from_init_params(depth=4, w_0=16, w_a=16.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return RegNet(params, num_classes=num_classes, stem_width=8)


# name, builder, early split module, opset, keep BatchNormalization nodes
MODELS = [
    ("mobilenet_v2", lambda n: torchvision.models.mobilenet_v2(width_mult=0.15, num_classes=n),
     "features.15", 17, False),
    ("mobilenet_v3_small", lambda n: torchvision.models.mobilenet_v3_small(width_mult=0.25, num_classes=n),
     "features.9", 18, False),
    ("mobilenet_v3_large", lambda n: torchvision.models.mobilenet_v3_large(width_mult=0.15, num_classes=n),
     "features.13", 17, True),
    ("efficientnet_b0", tiny_efficientnet, "features.6", 17, True),
    ("squeezenet1_1", TinySqueezeNet, "features.7", 13, False),
    ("shufflenet_v2", lambda n: ShuffleNetV2([1, 1, 2], [8, 16, 32, 64, 128], num_classes=n), "stage3", 18, False),
    ("shufflenet_v2_k12", lambda n: ShuffleNetV2([1, 1, 2], [8, 12, 12, 12, 12], num_classes=n), "stage3", 13, False),
    ("densenet", lambda n: torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2),
                                                       num_init_features=16, bn_size=2, num_classes=n),
     "features.transition3", 17, False),
    ("regnet_y", tiny_regnet, None, 17, False),  # early split: the second-to-last trunk block
    ("vgg", TinyVGG, "features.9", 17, False),
    ("resnet", TinyResNet, "layer3", 17, True),
]


def build_model(index, builder):
    """Seeded torchvision initialisation, then every Linear layer re-drawn with PyTorch's default
    U(+-1/sqrt(fan_in)) (torchvision's N(0, 0.01) for MobileNet/EfficientNet/VGG classifiers gives
    logits of ~1e-3, whose differences float32 resolves poorly), randomised batch-norm statistics,
    every ReLU out of place."""
    torch.manual_seed(SEED + index)
    model = builder(CLASSES)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    model = export_onnx.randomise_batchnorm(model, SEED + 100 + index)
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    return model.eval()


def early_module(model, early):
    if early is not None:
        return early
    blocks = [name for name, _ in model.trunk_output.named_children()]  # RegNet: block1..blockN
    return f"trunk_output.{blocks[-2]}"


# ---------------------------------------------------------------------------------------------
# The head F as a torch.fx graph from the split module's output to the logits
# ---------------------------------------------------------------------------------------------


class SplitTracer(fx.Tracer):
    """torch.fx's default tracer with the split module kept as one leaf call."""

    def __init__(self, split):
        super().__init__()
        self.split = split

    def is_leaf_module(self, module, qualified_name):
        return qualified_name == self.split or super().is_leaf_module(module, qualified_name)


class NotACut(Exception):
    pass


def head_module(model, split):
    """fx.GraphModule A -> logits: every node downstream of the split module's call. Raises
    NotACut if one of them reads a value computed from the image other than through A."""
    graph = SplitTracer(split).trace(model)
    split_node = next(n for n in graph.nodes if n.op == "call_module" and n.target == split)
    downstream, frontier = {split_node}, [split_node]
    while frontier:
        for user in frontier.pop().users:
            if user not in downstream:
                downstream.add(user)
                frontier.append(user)
    head = fx.Graph()
    env = {split_node: head.placeholder("A")}
    for node in graph.nodes:
        if node is split_node or node not in downstream:
            continue
        for used in node.all_input_nodes:
            if used not in env:
                if used.op != "get_attr":
                    raise NotACut(f"{node.name} reads {used.name}, not downstream of {split}")
                env[used] = head.node_copy(used, lambda n: env[n])
        copied = head.node_copy(node, lambda n: env[n])
        if "inplace" in copied.kwargs:  # the head runs on tensors the caller still needs
            copied.kwargs = {**copied.kwargs, "inplace": False}
        env[node] = copied
    return fx.GraphModule(model, head).eval()


# ---------------------------------------------------------------------------------------------
# DeepLIFT (Rescale, Captum's max-pool rule, Shapley product) on the batch [A, 0]
# ---------------------------------------------------------------------------------------------

ELEMENTWISE = {"relu": F.relu, "relu6": F.relu6, "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish,
               "silu": F.silu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
ELEMENTWISE_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardsigmoid: "hardsigmoid",
                       nn.Hardswish: "hardswish", nn.SiLU: "silu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
ELEMENTWISE_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.hardsigmoid: "hardsigmoid",
                         F.hardswish: "hardswish", F.silu: "silu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
                         torch.tanh: "tanh"}
ELEMENTWISE_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
LINEAR_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.Dropout,
                  nn.Flatten, nn.Identity)
LINEAR_FUNCTIONS = {torch.flatten, torch.cat, operator.add, torch.add, operator.getitem, getattr, torch.transpose,
                    torch.chunk, torch.split, torch.reshape, F.adaptive_avg_pool2d, F.avg_pool2d, F.dropout,
                    stochastic_depth, operator.floordiv}
LINEAR_METHODS = {"view", "reshape", "transpose", "contiguous", "chunk", "split", "flatten", "mean", "size",
                  "permute"}


class Rescale(torch.autograd.Function):
    """y = f(x) on the batch [x, x_ref]; backward: m = (y - y_ref)/(x - x_ref), or the gradient of f
    at x where |x - x_ref| < EPS (the same multiplier for both rows, as Captum)."""

    @staticmethod
    def forward(ctx, x, name):
        ctx.name = name
        y = ELEMENTWISE[name](x)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        with torch.enable_grad():
            x0 = x[:1].detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(ELEMENTWISE[ctx.name](x0), x0, torch.ones_like(x0))
        dx, dy = x[:1] - x[1:], y[:1] - y[1:]
        small = dx.abs() < EPS
        rescale = dy / torch.where(small, torch.ones_like(dx), dx)
        return g * torch.where(small, gradient, rescale), None


class MaxPoolRescale(torch.autograd.Function):
    """Captum's max-pool rule on [x, x_ref]: with y, y_ref the pooled rows and M = max(y, y_ref),
    g*(M - y_ref) goes to x's argmax and g*(y - M) to x_ref's argmax (first maximum of the window),
    amounts from overlapping windows ADDED (Captum's max_unpool2d overwrites instead); the
    multiplier is the amount / (x - x_ref), or the gradient where |x - x_ref| < EPS."""

    @staticmethod
    def forward(ctx, x, pool):
        y, indices = F.max_pool2d(x, pool.kernel_size, pool.stride, pool.padding, pool.dilation,
                                  ceil_mode=pool.ceil_mode, return_indices=True)
        ctx.save_for_backward(x, y, indices)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, indices = ctx.saved_tensors

        def route(values, idx):  # scatter-add each output's value to its argmax (per channel plane)
            rows, (c, h, w) = values.shape[0], x.shape[1:]
            out = torch.zeros(rows, c, h * w, dtype=values.dtype)
            return out.scatter_add_(2, idx.flatten(2), values.flatten(2)).view(rows, c, h, w)

        upper = torch.maximum(y[:1], y[1:])
        toward_input = route(g[:1] * (upper - y[1:]), indices[:1])
        toward_reference = route(g[:1] * (y[:1] - upper), indices[1:])
        gradient = route(g, indices)  # each row's own routing
        dx = x[:1] - x[1:]
        small = dx.abs() < EPS
        multiplier = (toward_input + toward_reference) / torch.where(small, torch.ones_like(dx), dx)
        return torch.where(small, gradient, multiplier.expand_as(gradient)), None


class ShapleyProduct(torch.autograd.Function):
    """z = a*b of two tensors that both depend on A (broadcasting allowed); backward:
    m_a = (b + b_ref)/2 m_z, m_b = (a + a_ref)/2 m_z, summed to each factor's shape."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ma = g * (0.5 * (b[:1] + b[1:]))
        mb = g * (0.5 * (a[:1] + a[1:]))
        return ma.sum_to_size(a.shape), mb.sum_to_size(b.shape)


class LiftInterpreter(fx.Interpreter):
    """Runs a head GraphModule on [A, 0] with the DeepLIFT Functions in place of the nonlinear ops;
    `ops` records the nonlinear op kinds met. Unknown ops raise, so nothing silently falls back to
    the gradient. decompose_silu: SiLU/Hardswish as x * sigmoid(x) / x * hardsigmoid(x) (Rescale on
    the gate, Shapley on the product), the form the ONNX graph has for SiLU (and for Hardswish
    below opset 14); only used for the README's comparison."""

    def __init__(self, module, decompose_silu=False):
        super().__init__(module)
        self.decompose = decompose_silu
        self.ops = set()
        self.variable = set()
        for node in module.graph.nodes:
            if node.op == "placeholder" or any(n in self.variable for n in node.all_input_nodes):
                self.variable.add(node)

    def run_node(self, n):
        self.node = n
        return super().run_node(n)

    def elementwise(self, name, x):
        self.ops.add(name)
        gates = {"silu": "sigmoid", "hardswish": "hardsigmoid"}
        if self.decompose and name in gates:
            self.ops.add("product")
            return ShapleyProduct.apply(x, Rescale.apply(x, gates[name]))
        return Rescale.apply(x, name)

    def product(self, a, b):
        self.ops.add("product")
        return ShapleyProduct.apply(a, b)

    def both_variable(self):
        return sum(isinstance(a, fx.Node) and a in self.variable for a in self.node.args) == 2

    def call_module(self, target, args, kwargs):
        module = self.fetch_attr(target)
        if type(module) in ELEMENTWISE_MODULES:
            return self.elementwise(ELEMENTWISE_MODULES[type(module)], args[0])
        if isinstance(module, nn.MaxPool2d):
            self.ops.add("maxpool")
            return MaxPoolRescale.apply(args[0], module)
        if isinstance(module, LINEAR_MODULES):
            return super().call_module(target, args, kwargs)
        raise NotImplementedError(f"no DeepLIFT rule for module {type(module).__name__} ({target})")

    def call_function(self, target, args, kwargs):
        if target in ELEMENTWISE_FUNCTIONS:
            return self.elementwise(ELEMENTWISE_FUNCTIONS[target], args[0])
        if target in (operator.mul, torch.mul):
            return self.product(*args) if self.both_variable() else target(*args, **kwargs)
        if target in LINEAR_FUNCTIONS:
            if target is stochastic_depth and args[3]:
                raise ValueError("stochastic depth in training mode")
            return super().call_function(target, args, kwargs)
        raise NotImplementedError(f"no DeepLIFT rule for function {target}")

    def call_method(self, target, args, kwargs):
        if target in ELEMENTWISE_METHODS:
            return self.elementwise(ELEMENTWISE_METHODS[target], args[0])
        if target == "mul":
            return self.product(*args) if self.both_variable() else args[0].mul(*args[1:], **kwargs)
        if target in LINEAR_METHODS:
            return super().call_method(target, args, kwargs)
        raise NotImplementedError(f"no DeepLIFT rule for method {target}")


def lift_contributions(head, A, c, decompose_silu=False):
    """DeepLIFT contributions of A [K,h,w] to F^c against the reference 0 (multiplier * (A - 0)),
    the two rows' outputs, and the set of nonlinear op kinds in the head. Computed in float64 (the
    head's weights converted): Rescale divides differences, and in float32 the rounding of Δy/Δx
    where Δx is small adds up to 1e-4 of F^c(A) - F^c(0) on the deeper heads."""
    A = A.double()
    pair = torch.stack([A, torch.zeros_like(A)]).requires_grad_(True)
    interpreter = LiftInterpreter(copy.deepcopy(head).double(), decompose_silu)
    out = interpreter.run(pair)
    (multipliers,) = torch.autograd.grad(out[0, c], pair)
    return (multipliers[0] * A).detach(), out.detach(), interpreter.ops


def head_description(ops):
    return "linear" if not ops else "nonlinear: " + ", ".join(sorted(ops))


# ---------------------------------------------------------------------------------------------
# Captum's DeepLift on the same head, for the check
# ---------------------------------------------------------------------------------------------


class HookSeparator(nn.Module):
    """Identity returning a new tensor, placed after each of Captum's nonlinear modules (see
    Fixtures/generate.py: Captum's hooks misorder when two nonlinear modules are adjacent)."""

    def forward(self, x):
        return x.clone()


CAPTUM_RULES = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.MaxPool2d)  # what Captum's DeepLift rescales


def captum_head(head):
    """A copy of the head where every activation or max-pool call is its own module instance (Captum
    stores inputs per module and raises on reuse), functional relu/sigmoid become modules, and a
    HookSeparator follows each module Captum treats as nonlinear."""
    gm = copy.deepcopy(head)
    graph, count = gm.graph, 0
    as_module = {F.relu: nn.ReLU, torch.relu: nn.ReLU, torch.sigmoid: nn.Sigmoid, F.sigmoid: nn.Sigmoid}
    for node in list(graph.nodes):
        module = None
        if node.op == "call_module":
            original = gm.get_submodule(node.target)
            if type(original) in ELEMENTWISE_MODULES or isinstance(original, nn.MaxPool2d):
                module = copy.deepcopy(original)
        elif node.op == "call_function" and node.target in as_module:
            module = as_module[node.target]()
        if module is None:
            continue
        count += 1
        gm.add_submodule(f"captum_{count}", module)
        with graph.inserting_after(node):
            replacement = graph.call_module(f"captum_{count}", (node.args[0],))
        node.replace_all_uses_with(replacement)
        graph.erase_node(node)
        if isinstance(module, CAPTUM_RULES):
            gm.add_submodule(f"separator_{count}", HookSeparator())
            with graph.inserting_after(replacement):
                separator = graph.call_module(f"separator_{count}", (replacement,))
            replacement.replace_all_uses_with(separator, delete_user_cb=lambda user: user is not separator)
    graph.lint()
    gm.recompile()
    return gm


def captum_contributions(head, A, c):
    """Captum's DeepLift on captum_head(head), in float64 like lift_contributions."""
    torch.use_deterministic_algorithms(False)  # Captum's max_unpool2d (sequential on one CPU thread)
    A = A.double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = DeepLift(captum_head(head).double()).attribute(A[None].clone(), baselines=torch.zeros_like(A[None]),
                                                                target=c)[0].detach()
    torch.use_deterministic_algorithms(True)
    return result


def captum_has_rules(ops, overlapping_pool):
    """Captum's rules cover the head: only ReLU/Sigmoid/Tanh and non-overlapping max-pools."""
    return ops <= {"relu", "sigmoid", "tanh", "maxpool"} and not overlapping_pool


def has_overlapping_pool(head):
    for node in head.graph.nodes:
        if node.op == "call_module":
            m = head.get_submodule(node.target)
            if isinstance(m, nn.MaxPool2d):
                k, s = (m.kernel_size, m.stride)
                k = k if isinstance(k, int) else max(k)
                s = s if isinstance(s, int) else min(s)
                if s < k:
                    return True
    return False


# ---------------------------------------------------------------------------------------------
# The coefficients: the same functions as Fixtures/generate.py's, imported from it
# ---------------------------------------------------------------------------------------------

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from generate import (cam, coefficients_ablation, coefficients_gradcam, coefficients_gradcampp,  # noqa: E402
                      coefficients_lift, coefficients_scorecam, coefficients_shap_exact, coefficients_xgradcam,
                      upsample)


# ---------------------------------------------------------------------------------------------
# ONNX: the head subgraph, run by ONNX Runtime
# ---------------------------------------------------------------------------------------------


def ort_session(model_proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def onnx_head(path, layer, shape):
    """The ONNX subgraph from tensor `layer` (of shape [1, *shape]) to "logits" (onnx.utils.Extractor)
    and its op types."""
    model = onnx.load(path)
    model.graph.value_info.append(onnx.helper.make_tensor_value_info(layer, onnx.TensorProto.FLOAT, [1, *shape]))
    extracted = onnx.utils.Extractor(model).extract_model([layer], [export_onnx.OUTPUT_NAME])
    return extracted, sorted({n.op_type for n in extracted.graph.node})


# ---------------------------------------------------------------------------------------------
# Reference cases
# ---------------------------------------------------------------------------------------------

SANITY = {"lift_completeness_worst_relative": 0.0, "torch_head_vs_logits_worst_relative": 0.0,
          "ort_vs_torch_logits_worst_relative": 0.0, "onnx_head_vs_torch_head_worst_relative": 0.0,
          "captum_vs_ours_worst_relative_where_captum_has_rules": 0.0, "shap_efficiency_worst_relative": 0.0}
CAPTUM_REPORT = []


def save(directory, name, array):
    np.save(os.path.join(directory, f"{name}.npy"), np.ascontiguousarray(array, dtype=np.float32))


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def reference_case(directory, name, model, path, module_path, x, all_tensors):
    """Write one case at the output of `module_path`; returns the row for the README's table."""
    os.makedirs(directory)
    values, order = all_tensors
    A_hooked, logits = export_onnx.module_output(model, module_path, x[None].numpy())
    layer, matches = export_onnx.matching_tensor(values, order, A_hooked, onnx.load(path))
    head = head_module(model, module_path)
    A = torch.from_numpy(A_hooked[0])
    logits = torch.from_numpy(logits[0])
    c = int(logits.argmax())
    logits_ort = values[export_onnx.OUTPUT_NAME][0]
    with torch.no_grad():
        head_logits = head(A[None])[0]
        f_of_zero = float(head(torch.zeros_like(A)[None])[0, c])
    SANITY["torch_head_vs_logits_worst_relative"] = max(SANITY["torch_head_vs_logits_worst_relative"],
                                                        relative(head_logits, logits))
    SANITY["ort_vs_torch_logits_worst_relative"] = max(SANITY["ort_vs_torch_logits_worst_relative"],
                                                       relative(logits_ort, logits))
    A_leaf = A.clone().requires_grad_(True)
    score = head(A_leaf[None])[0, c]
    (gradient,) = torch.autograd.grad(score, A_leaf)
    f_of_A = float(score.detach())

    contributions, pair_out, ops = lift_contributions(head, A, c)
    assert relative(pair_out[0], head_logits) < 1e-5 and abs(float(pair_out[1, c]) - f_of_zero) < 1e-5 * (1 + abs(f_of_zero))
    delta = f_of_A - f_of_zero
    delta64 = float(pair_out[0, c] - pair_out[1, c])  # the same difference from the float64 head
    completeness = abs(float(contributions.sum()) - delta64) / abs(delta64)
    assert completeness < COMPLETENESS_TOLERANCE, f"{directory}: summation-to-delta off by {completeness:.2e}"
    SANITY["lift_completeness_worst_relative"] = max(SANITY["lift_completeness_worst_relative"], completeness)

    # ONNX Runtime on the head subgraph: the split is a cut of the ONNX graph and F is the same function.
    extracted, onnx_ops = onnx_head(path, layer, A.shape)
    session = ort_session(extracted)
    onnx_at_A = session.run(None, {layer: A[None].numpy()})[0][0]
    onnx_at_zero = session.run(None, {layer: np.zeros((1, *A.shape), np.float32)})[0][0]
    onnx_head_error = max(relative(onnx_at_A, head_logits), abs(onnx_at_zero[c] - f_of_zero) / max(abs(f_of_zero), 1e-3))
    SANITY["onnx_head_vs_torch_head_worst_relative"] = max(SANITY["onnx_head_vs_torch_head_worst_relative"], onnx_head_error)

    captum = captum_contributions(head, A, c)
    captum_error = relative(captum.numpy(), contributions.numpy())
    eligible = captum_has_rules(ops, has_overlapping_pool(head))
    if eligible:
        assert captum_error < CAPTUM_TOLERANCE, f"{directory}: Captum differs by {captum_error:.2e}"
        key = "captum_vs_ours_worst_relative_where_captum_has_rules"
        SANITY[key] = max(SANITY[key], captum_error)
    CAPTUM_REPORT.append({"case": os.path.relpath(directory, HERE), "head": head_description(ops),
                          "captum_has_rules": eligible, "captum_vs_ours_relative": captum_error,
                          "delta": delta64, "sum_ours": float(contributions.sum()),
                          "sum_captum": float(captum.double().sum())})
    if "silu" in ops or "hardswish" in ops:
        decomposed, _, _ = lift_contributions(head, A, c, decompose_silu=True)
        CAPTUM_REPORT[-1]["sum_silu_hardswish_decomposed"] = float(decomposed.double().sum())
        CAPTUM_REPORT[-1]["decomposed_vs_ours_relative"] = relative(decomposed.numpy(), contributions.numpy())

    An, gn, Cn = A.numpy(), gradient.numpy(), contributions.numpy()  # Cn in float64: alpha^lift sums it
    coefficients = {
        "lift": coefficients_lift(Cn),
        "gradcam": coefficients_gradcam(An, gn),
        "gradcampp": coefficients_gradcampp(An, gn),
        "xgradcam": coefficients_xgradcam(An, gn),
        "ablation": coefficients_ablation(head, A, c),
        "scorecam": coefficients_scorecam(model, x, A, c),
    }
    if A.shape[0] <= SHAP_EXACT_MAX_MAPS:
        coefficients["shap_exact"] = coefficients_shap_exact(head, A, c)
        efficiency = abs(coefficients["shap_exact"].sum() - delta) / abs(delta)
        SANITY["shap_efficiency_worst_relative"] = max(SANITY["shap_efficiency_worst_relative"], efficiency)

    for key, value in (("input", x.numpy()), ("logits", logits.numpy()), ("logits_ort", logits_ort),
                       ("activations", An), ("gradient", gn), ("lift_contributions", Cn)):
        save(directory, key, value)
    for method, alpha in coefficients.items():
        save(directory, f"coefficients_{method}", alpha)
        save(directory, f"cam_{method}", cam(alpha, An))
    case = {"model": name, "layer": layer, "torch_module": module_path, "target": c, "image": None,
            "f_of_A": f_of_A, "f_of_zero": f_of_zero, "head": head_description(ops), "onnx_head_ops": onnx_ops,
            "equal_tensors": matches}
    with open(os.path.join(directory, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")
    print(f"    {os.path.relpath(directory, HERE)}: {module_path} -> {layer} K={A.shape[0]} "
          f"{tuple(A.shape[1:])}, target {c}, {case['head']}; completeness {completeness:.1e}, "
          f"captum {captum_error:.1e}{'' if eligible else ' (not comparable)'}, onnx head {onnx_head_error:.1e}",
          flush=True)
    return {"case": os.path.relpath(directory, os.path.join(HERE, "reference")), "module": module_path,
            "layer": layer, "K": int(A.shape[0]), "hw": list(A.shape[1:]), "head": case["head"],
            "onnx_head_ops": onnx_ops}


def directory_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main():
    started = time.time()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    only = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else None  # for development: a subset
    for sub in ("models", "reference"):
        if only is None:
            shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    summary = {"models": {}, "cases": [], "seconds": {}}
    for index, (name, builder, early, opset, keep_batchnorm) in enumerate(MODELS):
        if only is not None and name not in only:
            continue
        t0 = time.time()
        print(f"{name}", flush=True)
        model = build_model(index, builder)
        path = os.path.join(HERE, "models", f"{name}.onnx")
        default_layer, default_module = export_onnx.export_with_metadata(
            model, path, SIZE, opset, keep_batchnorm, seed=SEED + index)
        onnx_model = onnx.load(path)
        summary["models"][name] = {"file": f"models/{name}.onnx", "bytes": os.path.getsize(path), "opset": opset,
                                   "batchnorm_nodes": sum(n.op_type == "BatchNormalization" for n in onnx_model.graph.node),
                                   "default_layer": default_layer, "torch_module": default_module,
                                   "ops": sorted({n.op_type for n in onnx_model.graph.node})}
        x = torch.randn((3, *SIZE), generator=torch.Generator().manual_seed(SEED + index))
        all_tensors = export_onnx.run_all_tensors(path, x[None].numpy())
        reference = os.path.join(HERE, "reference", name)
        shutil.rmtree(reference, ignore_errors=True)
        for i, module_path in enumerate([default_module, early_module(model, early)]):
            summary["cases"].append(reference_case(os.path.join(reference, f"case{i}"), name, model, path,
                                                   module_path, x, all_tensors))
        summary["seconds"][name] = round(time.time() - t0, 1)
    summary["sanity"] = SANITY
    summary["captum"] = CAPTUM_REPORT
    summary["bytes"] = {sub: directory_size(os.path.join(HERE, sub)) for sub in ("models", "reference")}
    summary["seconds"]["total"] = round(time.time() - started, 1)
    if only is None:
        with open(os.path.join(HERE, "reference", "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    print(json.dumps({k: summary[k] for k in ("sanity", "bytes", "seconds")}, indent=1))
    for row in CAPTUM_REPORT:
        print(row)


if __name__ == "__main__":
    main()
