#!/usr/bin/env python3
"""Generate LiftCAM's test fixtures: a digit-localisation data set, small trained and random
networks in the weight-directory format, and reference outputs computed with PyTorch and Captum.

Run by hand (never by CI), from anywhere:  python3 Fixtures/generate.py
It deletes and rewrites Fixtures/{data,models,reference}. Deterministic: every random draw comes
from a seeded generator and torch runs single-threaded with deterministic algorithms.
Fixtures/README.md documents every file and every definition used below.
"""

import json
import math
import os
import shutil
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import DeepLift
from PIL import Image
from torchvision.models import VGG
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CANVAS = 64
EVAL_IMAGES = 300
TRAIN_RENDERS_PER_SCAN = 6
SEED = 20211011  # LIFT-CAM appeared at ICCV 2021, 11-17 October

# ---------------------------------------------------------------------------------------------
# Data set: real 8x8 scans from scikit-learn's digits, enlarged and placed on a cluttered canvas
# ---------------------------------------------------------------------------------------------


def enlarge(scan, height, width):
    """Bilinear enlargement (align_corners=False) of an 8x8 scan (values 0-16) to an alpha mask in [0,1]."""
    t = torch.from_numpy(scan.astype(np.float32) / 16.0)[None, None]
    return F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)[0, 0].clamp(0, 1).numpy()


def blend(canvas, alpha, colour, x0, y0):
    """Alpha-composite a solid `colour` through `alpha` [h,w] onto `canvas` [64,64,3] at (x0,y0)."""
    h, w = alpha.shape
    region = canvas[y0:y0 + h, x0:x0 + w]
    region[:] = region * (1 - alpha[..., None]) + colour * alpha[..., None]


def render(rng, scan, clutter_scans):
    """One 64x64 RGB image (uint8 [64,64,3]) of `scan` and its box (x_min, y_min, x_max, y_max).

    The background is a random tint plus low-contrast Gaussian noise; 2-4 fragments cut from OTHER
    scans (`clutter_scans`, same split) are drawn in other colours, mostly away from the digit; the
    digit is 24-40 px, in a random colour contrasting with the background. The box is the tight
    half-open pixel box of the placed digit's ink (alpha >= 0.2)."""
    dark = rng.random() < 0.5
    base = rng.uniform(0.05, 0.35) if dark else rng.uniform(0.65, 0.95)
    background = np.clip(base + rng.uniform(-0.15, 0.15, 3), 0, 1)
    canvas = np.broadcast_to(background, (CANVAS, CANVAS, 3)).astype(np.float64).copy()
    canvas += rng.normal(0.0, rng.uniform(0.01, 0.05), canvas.shape)

    def ink_colour():
        return rng.uniform(0.55, 1.0, 3) if dark else rng.uniform(0.0, 0.45, 3)

    size = int(rng.integers(24, 41))
    x0, y0 = (int(v) for v in rng.integers(0, CANVAS - size + 1, 2))
    for _ in range(int(rng.integers(2, 5))):
        other = clutter_scans[int(rng.integers(len(clutter_scans)))]
        while np.array_equal(other, scan):  # fragments come from other scans only
            other = clutter_scans[int(rng.integers(len(clutter_scans)))]
        other = other.reshape(8, 8)
        for _attempt in range(20):
            fh, fw = (int(v) for v in rng.integers(3, 6, 2))
            fy, fx = (int(v) for v in rng.integers(0, 9 - np.array([fh, fw])))
            piece = other[fy:fy + fh, fx:fx + fw]
            if piece.sum() < 24:  # too little ink to be a visible stroke
                continue
            scale = rng.uniform(2.5, 4.0)
            ph, pw = max(4, round(fh * scale)), max(4, round(fw * scale))
            py, px = (int(v) for v in rng.integers(0, CANVAS - np.array([ph, pw]) + 1))
            overlap_w = max(0, min(px + pw, x0 + size) - max(px, x0))
            overlap_h = max(0, min(py + ph, y0 + size) - max(py, y0))
            if overlap_w * overlap_h > 0.2 * ph * pw:
                continue
            blend(canvas, enlarge(piece, ph, pw) * rng.uniform(0.5, 0.9), ink_colour(), px, py)
            break

    alpha = enlarge(scan.reshape(8, 8), size, size)
    blend(canvas, alpha, ink_colour(), x0, y0)
    rows, cols = np.nonzero(alpha >= 0.2)
    box = (x0 + int(cols.min()), y0 + int(rows.min()), x0 + int(cols.max()) + 1, y0 + int(rows.max()) + 1)
    pixels = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    return pixels, box


def preprocess(pixels):
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W]: (pixel/255 - mean)/std with ImageNet statistics."""
    x = (pixels.astype(np.float32) / np.float32(255.0) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(np.moveaxis(x, -1, -3), dtype=np.float32)


def make_data():
    """Split the 1,797 scans by sample, render the training pool and write the evaluation set."""
    # scikit-learn only here, so that other scripts can import this file's coefficient functions.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, eval_idx = train_test_split(indices, test_size=EVAL_IMAGES, stratify=digits.target,
                                           random_state=SEED % 2**31)
    rng = np.random.default_rng(SEED)
    train_scans = digits.data[train_idx]
    train_pixels, train_labels = [], []
    for _ in range(TRAIN_RENDERS_PER_SCAN):
        for i in train_idx:
            pixels, _box = render(rng, digits.data[i], train_scans)
            train_pixels.append(pixels)
            train_labels.append(int(digits.target[i]))

    out_dir = os.path.join(HERE, "data", "digits")
    os.makedirs(out_dir)
    eval_scans = digits.data[eval_idx]
    rows, eval_pixels = [], []
    for n, i in enumerate(eval_idx):
        pixels, box = render(rng, digits.data[i], eval_scans)
        name = f"{n:04d}.png"
        Image.fromarray(pixels).save(os.path.join(out_dir, name))
        # The networks are evaluated on what the PNG decodes to, exactly as the Swift side sees it.
        eval_pixels.append(np.asarray(Image.open(os.path.join(out_dir, name)).convert("RGB")))
        rows.append((name, int(digits.target[i])) + box)
    with open(os.path.join(out_dir, "manifest.csv"), "w") as f:
        f.write("file,label,x_min,y_min,x_max,y_max\n")
        f.writelines(",".join(str(v) for v in row) + "\n" for row in rows)
    return (np.stack(train_pixels), np.array(train_labels),
            np.stack(eval_pixels), np.array([r[1] for r in rows]), rows)


# ---------------------------------------------------------------------------------------------
# Networks: torchvision's VGG and ResNet, built from the architecture JSON
# ---------------------------------------------------------------------------------------------


class ConfiguredVGG(VGG):
    """torchvision's VGG (its forward: features, avgpool, flatten, classifier) built from an
    architecture JSON; nn.Module.__init__ is called directly so torchvision's 25088x4096
    classifier is never allocated."""

    def __init__(self, arch):
        nn.Module.__init__(self)
        layers, channels = [], 3
        for v in arch["config"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers.append(nn.Conv2d(channels, v, 3, padding=1))
            if arch["batch_norm"]:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=False))
            channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(tuple(arch["pool"]))
        head, width = [], channels * arch["pool"][0] * arch["pool"][1]
        for hidden in arch["classifier"]:
            head += [nn.Linear(width, hidden), nn.ReLU(inplace=False), nn.Dropout()]
            width = hidden
        head.append(nn.Linear(width, arch["classes"]))
        self.classifier = nn.Sequential(*head)
        # torchvision's VGG initialisation for convolutions and batch-norm; Linear layers keep
        # PyTorch's default init (torchvision's N(0, 0.01) barely trains from scratch in a few epochs).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


class BasicBlockOwnReLUs(BasicBlock):
    """torchvision's BasicBlock with the ReLU after the residual add as a second module instance.
    Captum's DeepLift stores each nonlinearity's input and output on the module, so one ReLU
    applied twice per forward is overwritten (Captum raises). Adds no parameters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = nn.ReLU(inplace=False)
        self.relu_out = nn.ReLU(inplace=False)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu_out(out + identity)


class BottleneckOwnReLUs(Bottleneck):
    """torchvision's Bottleneck with one ReLU module per use (see BasicBlockOwnReLUs)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = nn.ReLU(inplace=False)
        self.relu2 = nn.ReLU(inplace=False)
        self.relu_out = nn.ReLU(inplace=False)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu_out(out + identity)


class ConfiguredResNet(ResNet):
    """torchvision's ResNet (same module names and forward) with stage widths width*[1,2,4,8]
    instead of 64*[1,2,4,8]; conv1 7x7/2 pad 3, max-pool 3/2/1, zero_init_residual False."""

    def __init__(self, arch):
        nn.Module.__init__(self)
        block = {"basic": BasicBlockOwnReLUs, "bottleneck": BottleneckOwnReLUs}[arch["block"]]
        width, layers = arch["width"], arch["layers"]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, arch["classes"])
        for m in self.modules():  # torchvision's ResNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def build(arch):
    """The PyTorch module for an architecture JSON, every ReLU non-inplace: Captum's DeepLift needs
    each nonlinearity's input intact after the forward pass."""
    model = ConfiguredVGG(arch) if arch["family"] == "vgg" else ConfiguredResNet(arch)
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return model


def split(model, arch, layer):
    """(body, head) as nn.Sequential of the model's own module instances: the body runs up to and
    including `layer` ("features.N" for VGG, "layerK" for ResNet), the head from there to the logits."""
    if arch["family"] == "vgg":
        index = int(layer.split(".")[1])
        body = model.features[:index + 1]
        head = nn.Sequential(model.features[index + 1:], model.avgpool, nn.Flatten(), model.classifier)
        return body, head
    stem = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    cut = stem.index(layer) + 1
    body = nn.Sequential(*(getattr(model, n) for n in stem[:cut]))
    head = nn.Sequential(*(getattr(model, n) for n in stem[cut:]), model.avgpool, nn.Flatten(), model.fc)
    return body, head


class HookSeparator(nn.Module):
    """Identity that returns a NEW tensor (a clone), placed between two adjacent nonlinear modules
    of the head handed to Captum. Captum's DeepLift reads a nonlinearity's output gradient with a
    tensor hook registered in its forward hook, and the next module's DeepLift multiplier is set by
    a tensor hook on that same tensor registered later, so it runs second: a ReLU feeding a
    MaxPool2d directly sees the max-pool's plain gradient instead of its DeepLIFT multiplier and
    the result is not complete (7e-3 relative on vgg_bn_parity at features.2). With a separate
    tensor in between, the max-pool's multiplier is in place before the ReLU's hook reads it."""

    def forward(self, x):
        return x.clone()


def captum_head(head):
    """The head's module instances in order, flattened, with a HookSeparator between any two
    adjacent modules that Captum's DeepLift treats as nonlinear (ReLU, MaxPool2d)."""
    nonlinear = (nn.ReLU, nn.MaxPool2d)
    modules = []
    for m in head:
        for leaf in (m if isinstance(m, nn.Sequential) else [m]):
            if modules and isinstance(modules[-1], nonlinear) and isinstance(leaf, nonlinear):
                modules.append(HookSeparator())
            modules.append(leaf)
    return nn.Sequential(*modules)


def default_layer(model, arch):
    """The CAM layer: the last ReLU of `features` for VGG, "layer4" for ResNet."""
    if arch["family"] == "resnet":
        return "layer4"
    last = max(i for i, m in enumerate(model.features) if isinstance(m, nn.ReLU))
    return f"features.{last}"


def randomise_for_parity(model, generator):
    """Random but well-scaled weights: non-zero conv/linear biases, PyTorch's default Linear init,
    and every batch-norm given random affine parameters and running statistics (var in [0.5, 2])."""

    def uniform(t, lo, hi):
        with torch.no_grad():
            t.copy_(torch.rand(t.shape, generator=generator) * (hi - lo) + lo)

    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            uniform(m.bias, -0.1, 0.1)
        elif isinstance(m, nn.Linear):
            bound = 1 / math.sqrt(m.in_features)
            uniform(m.weight, -bound, bound)
            uniform(m.bias, -bound, bound)
        elif isinstance(m, nn.BatchNorm2d):
            uniform(m.weight, 0.5, 1.5)
            uniform(m.bias, -0.3, 0.3)
            uniform(m.running_mean, -0.5, 0.5)
            uniform(m.running_var, 0.5, 2.0)


def export_model(name, arch, model):
    """Write Fixtures/models/<name>/arch.json and weights/<state-dict key>.npy; returns bytes written."""
    directory = os.path.join(HERE, "models", name)
    os.makedirs(os.path.join(directory, "weights"))
    with open(os.path.join(directory, "arch.json"), "w") as f:
        json.dump(arch, f)
        f.write("\n")
    for key, value in model.state_dict().items():
        array = value.detach().numpy()
        array = array if key.endswith("num_batches_tracked") else array.astype(np.float32)
        np.save(os.path.join(directory, "weights", f"{key}.npy"), array)
    return directory_size(directory)


def directory_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def train(model, pixels, labels, epochs, learning_rate, seed, batch=64):
    """Adam with a cosine-decayed learning rate, dropout p = 0.1, and a random cyclic shift of
    +-4 px (torch.roll) as the only augmentation beyond the random renders themselves."""
    rng = np.random.default_rng(seed)
    for m in model.modules():  # dropout is the identity at inference, so p is free: 0.5 trains too slowly
        if isinstance(m, nn.Dropout):
            m.p = 0.1
    inputs = torch.from_numpy(preprocess(pixels))
    targets = torch.from_numpy(labels).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    steps = epochs * math.ceil(len(labels) / batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    model.train()
    for epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(len(labels)))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            x = inputs[idx]
            shift = [int(v) for v in rng.integers(-4, 5, 2)]
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), targets[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        print(f"    epoch {epoch + 1}/{epochs}: loss {total / len(labels):.4f}", flush=True)
    model.eval()


def accuracy(model, pixels, labels):
    with torch.no_grad():
        predictions = model(torch.from_numpy(preprocess(pixels))).argmax(1).numpy()
    return float((predictions == labels).mean())


# ---------------------------------------------------------------------------------------------
# Coefficients, each transcribed from its definition. A: activations [K,h,w], g: dF^c/dA [K,h,w].
# Sums run in float64 on the float32 inputs and the result is stored as float32.
# ---------------------------------------------------------------------------------------------


def coefficients_lift(contributions):
    """LIFT-CAM, Eq 7: alpha_k = sum_(i,j) C_{dA_k(i,j) dF^c} (DeepLIFT contributions, reference 0)."""
    return contributions.astype(np.float64).sum(axis=(1, 2))


def coefficients_gradcam(A, g):
    """Grad-CAM: alpha_k = mean_(i,j) dF^c/dA_k(i,j)."""
    return g.astype(np.float64).mean(axis=(1, 2))


def coefficients_gradcampp(A, g):
    """Grad-CAM++ (closed form with an exponential head): a_k(i,j) = g^2 / (2 g^2 + (sum_ab A_k(a,b)) g^3),
    a = 0 where g == 0 or the denominator is 0; alpha_k = sum_(i,j) relu(g) a."""
    g = g.astype(np.float64)
    g2, g3 = g * g, g * g * g
    denominator = 2 * g2 + A.astype(np.float64).sum(axis=(1, 2), keepdims=True) * g3
    valid = (g != 0) & (denominator != 0)
    a = np.where(valid, g2 / np.where(valid, denominator, 1.0), 0.0)
    return (np.maximum(g, 0) * a).sum(axis=(1, 2))


def coefficients_xgradcam(A, g):
    """XGrad-CAM as the paper writes it, Eq 10: alpha_k = sum_(i,j) A_k(i,j) dF^c/dA_k(i,j) (no normalisation)."""
    return (A.astype(np.float64) * g.astype(np.float64)).sum(axis=(1, 2))


def coefficients_ablation(head, A, c):
    """Ablation-CAM as the paper writes it, Eq 9: alpha_k = F^c(A) - F^c(A with map k zeroed)."""
    K = A.shape[0]
    batch = A[None].repeat(K + 1, 1, 1, 1)  # row 0 intact, row k+1 without map k
    batch[torch.arange(1, K + 1), torch.arange(K)] = 0
    with torch.no_grad():
        scores = head(batch)[:, c].double().numpy()
    return scores[0] - scores[1:]


def upsample(maps, size):
    """u(.): bilinear resize of [..., h, w] to size (H, W), align_corners=False (PyTorch semantics)."""
    t = torch.as_tensor(maps, dtype=torch.float32)
    lead = t.shape[:-2]
    t = t.reshape(1, -1, *t.shape[-2:])
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False).reshape(*lead, *size)


def coefficients_scorecam(model, x, A, c):
    """Score-CAM: m_k = min-max normalised u(A_k) (alpha_k = 0 if u(A_k) is constant);
    alpha_k = softmax(f(x o m_k))_c, every channel of the preprocessed x multiplied by m_k."""
    masks = upsample(A, tuple(x.shape[-2:]))  # [K,H,W]
    lo, hi = masks.amin(dim=(1, 2)), masks.amax(dim=(1, 2))
    alpha = np.zeros(A.shape[0])
    varying = torch.nonzero(hi > lo).flatten()
    if len(varying):
        m = (masks[varying] - lo[varying, None, None]) / (hi - lo)[varying, None, None]
        with torch.no_grad():
            probabilities = torch.softmax(model(x[None] * m[:, None]), dim=1)[:, c]
        alpha[varying.numpy()] = probabilities.double().numpy()
    return alpha


def coefficients_shap_exact(head, A, c, batch=512):
    """Exact SHAP values of the maps, Eq 6: alpha_k = sum_{S not containing k} |S|!(N-|S|-1)!/N!
    [F^c(h(S u {k})) - F^c(h(S))]; present maps keep A_k, absent maps are 0. All 2^N subsets,
    subset S encoded as the bit mask sum_{k in S} 2^k."""
    N = A.shape[0]
    subsets = np.arange(2 ** N)
    present = ((subsets[:, None] >> np.arange(N)[None]) & 1).astype(np.float32)  # [2^N, N]
    values = np.empty(2 ** N)
    with torch.no_grad():
        for start in range(0, 2 ** N, batch):
            mask = torch.from_numpy(present[start:start + batch])[:, :, None, None]
            values[start:start + batch] = head(A[None] * mask)[:, c].double().numpy()
    sizes = present.sum(axis=1).astype(int)
    weight = np.array([math.factorial(s) * math.factorial(N - s - 1) / math.factorial(N) if s < N else 0.0
                       for s in range(N + 1)])
    alpha = np.zeros(N)
    for k in range(N):
        without = subsets[(subsets >> k) & 1 == 0]
        alpha[k] = np.sum(weight[sizes[without]] * (values[without | (1 << k)] - values[without]))
    return alpha


def cam(alpha, A):
    """Eq 1: L = relu(sum_k alpha_k A_k) [h,w]."""
    return np.maximum(np.tensordot(alpha.astype(np.float64), A.astype(np.float64), axes=1), 0)


def saliency(L, size):
    """s(u(L)) [H,W]: bilinear upsampling (align_corners=False), then min-max normalisation
    (all zeros when max == min)."""
    u = upsample(L.astype(np.float32), size).numpy()
    lo, hi = u.min(), u.max()
    return np.zeros_like(u) if hi == lo else ((u - lo) / (hi - lo)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Evaluation metrics (Section 4: Eqs 11-15, insertion/deletion)
# ---------------------------------------------------------------------------------------------


def metrics(model, x, sal, c, box):
    """Y, O, D of Eqs 12-14, insertion/deletion curves (41 points) with trapezoid AUCs, and the
    energy pointing game (Eq 15 style) in percent; see README for the exact conventions."""
    H, W = sal.shape
    s = torch.from_numpy(sal)

    def probability(batch):
        with torch.no_grad():
            return torch.softmax(model(batch), dim=1)[:, c].double().numpy()

    Y, O, D = probability(torch.stack([x, s * x, (1 - s) * x]))
    order = torch.from_numpy(np.argsort(-sal.ravel(), kind="stable"))
    insertion, deletion = [], []
    for i in range(41):
        top = torch.zeros(H * W)
        top[order[:(i * H * W) // 40]] = 1
        top = top.reshape(H, W)
        insertion.append(x * top)
        deletion.append(x * (1 - top))
    curve_in = probability(torch.stack(insertion))
    curve_del = probability(torch.stack(deletion))

    def auc(p):
        return float(sum((p[i] + p[i + 1]) / 2 * 0.025 for i in range(40)))

    x_min, y_min, x_max, y_max = box
    if x_max <= x_min or y_max <= y_min:
        pointing = None
    else:
        total = float(sal.astype(np.float64).sum())
        inside = float(sal[y_min:y_max, x_min:x_max].astype(np.float64).sum())
        pointing = 0.0 if total == 0 else 100.0 * inside / total
    return {"Y": float(Y), "O": float(O), "D": float(D),
            "insertion_curve": [float(p) for p in curve_in], "deletion_curve": [float(p) for p in curve_del],
            "insertion_auc": auc(curve_in), "deletion_auc": auc(curve_del), "energy_pointing_game": pointing}


# ---------------------------------------------------------------------------------------------
# Reference cases
# ---------------------------------------------------------------------------------------------

SHAP_EXACT_MAX_MAPS = 12
SANITY = {"lift_completeness_worst_relative": 0.0, "head_vs_logits_worst_abs": 0.0,
          "linear_head_lift_xgradcam_ablation_worst_relative": 0.0, "shap_efficiency_worst_relative": 0.0,
          "captum_without_separator_worst_relative_difference": 0.0}


def save(directory, name, array):
    np.save(os.path.join(directory, f"{name}.npy"), np.ascontiguousarray(array, dtype=np.float32))


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def reference_case(directory, name, model, arch, layer, x, image=None, box=None):
    """Write one case: forward/backward/DeepLIFT at `layer`, every coefficient method, the CAMs and
    saliency maps, and (when a box is given) the evaluation metrics for lift and gradcam."""
    os.makedirs(directory)
    body, head = split(model, arch, layer)
    with torch.no_grad():
        logits = model(x[None])[0]
        A = body(x[None])[0]  # [K,h,w]
        SANITY["head_vs_logits_worst_abs"] = max(SANITY["head_vs_logits_worst_abs"],
                                                 float((head(A[None])[0] - logits).abs().max()))
        f_of_zero = float(head(torch.zeros_like(A)[None])[0, int(logits.argmax())])
    c = int(logits.argmax())
    A_leaf = A.clone().requires_grad_(True)
    score = head(A_leaf[None])[0, c]
    (gradient,) = torch.autograd.grad(score, A_leaf)
    f_of_A = float(score.detach())
    # Captum's max-pool rule calls max_unpool2d, which PyTorch flags as nondeterministic (scatter
    # collisions on CUDA); on one CPU thread it is sequential, so the check is lifted just for it.
    torch.use_deterministic_algorithms(False)
    zero = torch.zeros_like(A[None])
    contributions = DeepLift(captum_head(head)).attribute(A[None].clone(), baselines=zero, target=c)[0].detach()
    unseparated = DeepLift(head).attribute(A[None].clone(), baselines=zero, target=c)[0].detach()
    torch.use_deterministic_algorithms(True)
    SANITY["captum_without_separator_worst_relative_difference"] = max(
        SANITY["captum_without_separator_worst_relative_difference"],
        relative(unseparated.numpy(), contributions.numpy()))
    An, gn, Cn = A.numpy(), gradient.numpy(), contributions.numpy()

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
        efficiency = abs(coefficients["shap_exact"].sum() - (f_of_A - f_of_zero)) / abs(f_of_A - f_of_zero)
        SANITY["shap_efficiency_worst_relative"] = max(SANITY["shap_efficiency_worst_relative"], efficiency)

    completeness = abs(coefficients["lift"].sum() - (f_of_A - f_of_zero)) / abs(f_of_A - f_of_zero)
    SANITY["lift_completeness_worst_relative"] = max(SANITY["lift_completeness_worst_relative"], completeness)
    if isinstance(head[0], nn.AdaptiveAvgPool2d):  # ResNet at layer4: the head is linear in A
        for other in ("xgradcam", "ablation"):
            SANITY["linear_head_lift_xgradcam_ablation_worst_relative"] = max(
                SANITY["linear_head_lift_xgradcam_ablation_worst_relative"],
                relative(coefficients[other], coefficients["lift"]))

    for key, value in (("input", x), ("logits", logits), ("activations", A), ("gradient", gradient),
                       ("lift_contributions", contributions)):
        save(directory, key, value.numpy())
    size = tuple(x.shape[-2:])
    saliencies = {}
    for method, alpha in coefficients.items():
        L = cam(alpha, An)
        saliencies[method] = saliency(L, size)
        save(directory, f"coefficients_{method}", alpha)
        save(directory, f"cam_{method}", L)
        save(directory, f"saliency_{method}", saliencies[method])
    with open(os.path.join(directory, "case.json"), "w") as f:
        json.dump({"model": name, "layer": layer, "target": c, "image": image,
                   "f_of_A": f_of_A, "f_of_zero": f_of_zero}, f, indent=1)
        f.write("\n")
    if box is not None:
        with open(os.path.join(directory, "metrics.json"), "w") as f:
            json.dump({m: metrics(model, x, saliencies[m], c, box) for m in ("lift", "gradcam")}, f, indent=1)
            f.write("\n")
    print(f"    {os.path.relpath(directory, HERE)}: layer {layer}, target {c}, "
          f"lift completeness {completeness:.2e}", flush=True)
    return c, A, coefficients, f_of_A


def pytorch_grad_cam_weights(model, arch, x, c):
    """Per-map weights from pytorch-grad-cam's own pipeline (target = logit c, default layer),
    captured from get_cam_weights. README explains how each relates to ours."""
    from pytorch_grad_cam import AblationCAM, GradCAM, GradCAMPlusPlus, ScoreCAM, XGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    target_layer = model.features[int(default_layer(model, arch).split(".")[1])]
    weights = {}
    for name, method_class in (("gradcam", GradCAM), ("gradcampp", GradCAMPlusPlus), ("xgradcam", XGradCAM),
                               ("scorecam", ScoreCAM), ("ablation", AblationCAM)):
        with method_class(model=model, target_layers=[target_layer]) as method:
            original = method.get_cam_weights

            def capture(*args, _original=original, **kwargs):
                weights[name] = np.asarray(_original(*args, **kwargs))[0]
                return weights[name][None]

            method.get_cam_weights = capture
            method(input_tensor=x[None].clone(), targets=[ClassifierOutputTarget(c)])
        model.zero_grad(set_to_none=True)
    model.eval()
    return weights


def compare_with_pytorch_grad_cam(directory, A, ours, theirs, f_of_A):
    """Save pgc_<method>.npy and measure how each relates to our coefficients."""
    sum_A = A.numpy().astype(np.float64).sum(axis=(1, 2))
    for method, w in theirs.items():
        save(directory, f"pgc_{method}", w)
    return {
        "gradcam_vs_ours": relative(theirs["gradcam"], ours["gradcam"]),
        "gradcampp_vs_ours": relative(theirs["gradcampp"], ours["gradcampp"]),
        "xgradcam_times_sumA_plus_1e-7_vs_ours": relative(theirs["xgradcam"] * (sum_A + 1e-7), ours["xgradcam"]),
        "ablation_times_F_of_A_vs_ours": relative(theirs["ablation"] * f_of_A, ours["ablation"]),
        "scorecam_vs_ours": relative(theirs["scorecam"], ours["scorecam"]),
    }


# ---------------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------------

DIGIT_NAMES = [str(d) for d in range(10)]
TRAINED = [  # name, architecture, epochs, Adam learning rate
    ("vgg_digits", {"family": "vgg", "config": [16, "M", 32, "M", 64, 64, "M"], "batch_norm": False,
                    "pool": [4, 4], "classifier": [128, 128], "classes": 10, "input": [3, 64, 64],
                    "class_names": DIGIT_NAMES}, 10, 1e-3),
    ("resnet_digits", {"family": "resnet", "block": "basic", "layers": [1, 1, 1, 1], "width": 16,
                       "classes": 10, "input": [3, 64, 64], "class_names": DIGIT_NAMES}, 10, 2e-3),
    ("tiny_vgg", {"family": "vgg", "config": [8, "M", 10, "M"], "batch_norm": False, "pool": [2, 2],
                  "classifier": [32, 32], "classes": 10, "input": [3, 64, 64], "class_names": DIGIT_NAMES},
     20, 3e-3),
]
PARITY = [  # name, architecture, the earlier split layer
    ("vgg_bn_parity", {"family": "vgg", "config": [8, "M", 16, 16, "M", 24], "batch_norm": True, "pool": [3, 3],
                       "classifier": [32], "classes": 7, "input": [3, 40, 56]}, "features.2"),
    ("resnet_bottleneck_parity", {"family": "resnet", "block": "bottleneck", "layers": [1, 2, 1, 1], "width": 8,
                                  "classes": 5, "input": [3, 48, 40]}, "layer2"),
]


def reload(name, arch):
    """Build `arch` afresh and load Fixtures/models/<name>/weights back: the references are computed
    from exactly the exported float32 values."""
    model = build(arch)
    weights = os.path.join(HERE, "models", name, "weights")
    state = {key: torch.from_numpy(np.load(os.path.join(weights, f"{key}.npy")))
             for key in model.state_dict()}
    model.load_state_dict(state)
    return model.eval()


def main():
    started = time.time()
    # Captum announces its hooks and its own requires_grad on every call: expected, so silenced.
    warnings.filterwarnings("ignore", message="Setting forward, backward hooks", category=UserWarning)
    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require", category=UserWarning)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for sub in ("data", "models", "reference"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    summary = {"accuracy": {}, "weights_bytes": {}, "seconds": {}}

    print("rendering data", flush=True)
    train_pixels, train_labels, eval_pixels, eval_labels, rows = make_data()
    summary["seconds"]["data"] = round(time.time() - started, 1)

    for seed, (name, arch, epochs, learning_rate) in enumerate(TRAINED):
        print(f"training {name}", flush=True)
        t0 = time.time()
        torch.manual_seed(SEED + seed)
        model = build(arch)
        train(model, train_pixels, train_labels, epochs, learning_rate, SEED + seed)
        summary["weights_bytes"][name] = export_model(name, arch, model)
        summary["accuracy"][name] = {"train_pool": accuracy(reload(name, arch), train_pixels, train_labels),
                                     "eval": accuracy(reload(name, arch), eval_pixels, eval_labels)}
        summary["seconds"][name] = round(time.time() - t0, 1)
        print(f"    accuracy {summary['accuracy'][name]}", flush=True)

    generator = torch.Generator().manual_seed(SEED)
    for name, arch, _early in PARITY:
        torch.manual_seed(SEED + 100 + len(name))  # any fixed seed, distinct per network
        model = build(arch)
        randomise_for_parity(model, generator)
        summary["weights_bytes"][name] = export_model(name, arch, model.eval())

    print("reference outputs", flush=True)
    t0 = time.time()
    reference = os.path.join(HERE, "reference")
    for name, arch, _epochs, _lr in TRAINED:
        model = reload(name, arch)
        layer = default_layer(model, arch)
        for i, row in enumerate(rows[:3]):
            x = torch.from_numpy(preprocess(eval_pixels[i]))
            directory = os.path.join(reference, name, f"case{i}")
            c, A, ours, f_of_A = reference_case(directory, name, model, arch, layer, x, image=row[0],
                                                box=row[2:6] if name == "vgg_digits" else None)
            if name == "vgg_digits" and i == 0:
                summary["pytorch_grad_cam"] = compare_with_pytorch_grad_cam(
                    directory, A, ours, pytorch_grad_cam_weights(model, arch, x, c), f_of_A)
    for name, arch, early in PARITY:
        model = reload(name, arch)
        inputs = torch.randn((2, *arch["input"]), generator=generator)
        layers = [default_layer(model, arch), early]
        for i, (layer, x) in enumerate((layer, x) for layer in layers for x in inputs):
            reference_case(os.path.join(reference, name, f"case{i}"), name, model, arch, layer, x)
    summary["seconds"]["reference"] = round(time.time() - t0, 1)

    summary["sanity"] = SANITY
    summary["seconds"]["total"] = round(time.time() - started, 1)
    summary["bytes"] = {sub: directory_size(os.path.join(HERE, sub)) for sub in ("data", "models", "reference")}
    with open(os.path.join(reference, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
