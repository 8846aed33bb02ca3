#!/usr/bin/env python3
"""LiftCAM against ONNX Runtime on the same machine, in the same run: forward passes (issue 15).

For torchvision's VGG16 and ResNet50 (224x224, batch 1), this script

  - draws seeded random weights with numpy (He-normal convolutions and linear layers, randomised
    batch-norm statistics, so batch-norm is not the identity) and one seeded input;
  - writes them as a LiftCAM weight directory (<state-dict key>.npy) and builds the same network as
    an ONNX graph with onnx.helper, node by node as torch.onnx.export lays torchvision's modules out
    (Conv, BatchNormalization, Relu, MaxPool, GlobalAveragePool, Flatten, Gemm);
  - checks that the logits agree (`liftcam forward` against ONNX Runtime, 1e-4 relative to max |logit|);
  - times ONNX Runtime (2 intra-op threads, every graph optimisation) and `liftcam bench --threads 2`
    (forward_seconds) alternately, ROUNDS times: each a median of REPEAT runs after a warm-up;

and writes Benchmarks/ONNXRUNTIME.md with the medians, the ratio LiftCAM / ONNX Runtime, the machine,
the date and the load. ONNX Runtime and onnx (pip) are used only here.

MobileNetV2 and EfficientNet-B0 (`--archs mobilenet_v2,efficientnet_b0`) are exported from
torchvision with seeded random weights by Scripts/export_onnx.py (PyTorch needed for those two only),
and LiftCAM runs the same .onnx file (`liftcam bench --arch model.onnx`).

Usage (LiftCAM built with `swift build -c release`):

    python3 Benchmarks/compare_onnxruntime.py                    # both networks, 3 rounds of 10
    python3 Benchmarks/compare_onnxruntime.py --archs resnet50 --rounds 5 --repeat 20
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIFTCAM = os.path.join(ROOT, ".build", "release", "liftcam")
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class GraphBuilder:
    """Weights as a state dict (what LiftCAM reads) and the ONNX nodes that use them."""

    def __init__(self, seed):
        self.random = np.random.default_rng(seed)
        self.weights = {}
        self.nodes = []
        self.count = 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def tensor(self, key, array):
        self.weights[key] = array.astype(np.float32)
        return key

    def conv(self, x, key, cin, cout, kernel, stride=1, padding=0, bias=True):
        fan_in = cin * kernel * kernel
        w = self.tensor(key + ".weight", self.random.normal(0, np.sqrt(2 / fan_in), (cout, cin, kernel, kernel)))
        inputs = [x, w]
        if bias:
            inputs.append(self.tensor(key + ".bias", self.random.normal(0, 0.05, cout)))
        y = self.name(key)
        self.nodes.append(helper.make_node("Conv", inputs, [y], kernel_shape=[kernel, kernel],
                                           strides=[stride, stride], pads=[padding] * 4))
        return y

    def batch_norm(self, x, key, channels):
        gamma = self.tensor(key + ".weight", self.random.uniform(0.5, 1.5, channels))
        beta = self.tensor(key + ".bias", self.random.normal(0, 0.1, channels))
        mean = self.tensor(key + ".running_mean", self.random.normal(0, 0.1, channels))
        var = self.tensor(key + ".running_var", self.random.uniform(0.5, 2.0, channels))
        y = self.name(key)
        self.nodes.append(helper.make_node("BatchNormalization", [x, gamma, beta, mean, var], [y], epsilon=1e-5))
        return y

    def op(self, kind, inputs, **attributes):
        y = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [y], **attributes))
        return y

    def linear(self, x, key, fan_in, fan_out):
        w = self.tensor(key + ".weight", self.random.normal(0, np.sqrt(2 / fan_in), (fan_out, fan_in)))
        b = self.tensor(key + ".bias", self.random.normal(0, 0.05, fan_out))
        return self.op("Gemm", [x, w, b], transB=1)

    def model(self, output):
        initializers = [numpy_helper.from_array(value, key) for key, value in self.weights.items()]
        graph = helper.make_graph(self.nodes, "net",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 1000])],
                                  initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        return model


def build_vgg16(seed):
    g = GraphBuilder(seed)
    x, channels, index = "x", 3, 0
    for item in VGG16:
        if item == "M":
            x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
            index += 1
        else:
            x = g.conv(x, f"features.{index}", channels, item, 3, padding=1)
            x = g.op("Relu", [x])
            channels, index = item, index + 2
    # avgpool (AdaptiveAvgPool2d(7, 7)) is the identity on the 7x7 maps of a 224x224 input.
    x = g.op("Flatten", [x], axis=1)
    x = g.op("Relu", [g.linear(x, "classifier.0", 512 * 7 * 7, 4096)])
    x = g.op("Relu", [g.linear(x, "classifier.3", 4096, 4096)])
    return g, g.linear(x, "classifier.6", 4096, 1000)


def build_resnet50(seed):
    g = GraphBuilder(seed)
    x = g.conv("x", "conv1", 3, 64, 7, stride=2, padding=3, bias=False)
    x = g.op("Relu", [g.batch_norm(x, "bn1", 64)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = 64
    for stage, (width, blocks) in enumerate(zip([64, 128, 256, 512], [3, 4, 6, 3]), start=1):
        for block in range(blocks):
            key = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            y = g.op("Relu", [g.batch_norm(g.conv(x, key + ".conv1", channels, width, 1, bias=False), key + ".bn1", width)])
            y = g.op("Relu", [g.batch_norm(g.conv(y, key + ".conv2", width, width, 3, stride, 1, bias=False), key + ".bn2", width)])
            y = g.batch_norm(g.conv(y, key + ".conv3", width, width * 4, 1, bias=False), key + ".bn3", width * 4)
            shortcut = x
            if block == 0:
                shortcut = g.conv(x, key + ".downsample.0", channels, width * 4, 1, stride, bias=False)
                shortcut = g.batch_norm(shortcut, key + ".downsample.1", width * 4)
            x = g.op("Relu", [g.op("Add", [y, shortcut])])
            channels = width * 4
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    return g, g.linear(x, "fc", 2048, 1000)


def ort_session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def time_ort(session, x, repeat):
    feed = {session.get_inputs()[0].name: x}
    session.run(None, feed)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_liftcam(arch, weights, input_path, repeat):
    network = ["--arch", arch] + (["--weights", weights] if weights else [])
    out = subprocess.run([LIFTCAM, "bench"] + network + ["--input", input_path,
                          "--repeat", str(repeat), "--threads", "2", "--json", "-"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["forward_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", default="vgg16,resnet50,mobilenet_v2,efficientnet_b0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "ONNXRUNTIME.md"))
    args = parser.parse_args()
    if not os.path.exists(LIFTCAM):
        sys.exit(f"{LIFTCAM}: not built; run `swift build -c release` first")
    builders = {"vgg16": build_vgg16, "resnet50": build_resnet50}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        x = np.random.default_rng(2).normal(0, 1, (1, 3, 224, 224)).astype(np.float32)
        input_path = os.path.join(work, "x.npy")
        np.save(input_path, x)
        for arch in args.archs.split(","):
            if arch in builders:
                graph, output = builders[arch](seed=1)
                weights = os.path.join(work, arch)
                os.makedirs(weights)
                for key, value in graph.weights.items():
                    np.save(os.path.join(weights, key + ".npy"), value)
                session = ort_session(graph.model(output))
                ort_logits = session.run(None, {"x": x})[0][0]
                network = ["--arch", arch, "--weights", weights]
            else:
                # A torchvision export: the same file for both engines.
                sys.path.insert(0, os.path.join(ROOT, "Scripts"))
                import export_onnx
                path = os.path.join(work, arch + ".onnx")
                export_onnx.export_with_metadata(export_onnx.random_model(arch, 1), path)
                weights = None
                session = ort_session(onnx.load(path))
                ort_logits = session.run(None, {session.get_inputs()[0].name: x})[0][0]
                arch, network = path, ["--arch", path]
            forward = subprocess.run([LIFTCAM, "forward"] + network + ["--input", input_path,
                                      "--json", "-"], check=True, capture_output=True, text=True).stdout
            ours = np.array(json.loads(forward)["logits"], dtype=np.float64)
            difference = float(np.max(np.abs(ours - ort_logits)) / np.max(np.abs(ort_logits)))
            if difference > 1e-4:
                sys.exit(f"{arch}: logits differ from ONNX Runtime's by {difference:.2e} relative")
            ort_times, liftcam_times = [], []
            for _ in range(args.rounds):
                ort_times.append(time_ort(session, x, args.repeat))
                liftcam_times.append(time_liftcam(arch, weights, input_path, args.repeat))
            ort_time, liftcam_time = statistics.median(ort_times), statistics.median(liftcam_times)
            arch = os.path.basename(arch).removesuffix(".onnx")
            rows.append((arch, ort_time, liftcam_time, difference))
            print(f"{arch}: ONNX Runtime {ort_time:.4f} s, LiftCAM {liftcam_time:.4f} s "
                  f"({liftcam_time / ort_time:.2f}x), logits within {difference:.1e}", flush=True)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    load = os.getloadavg()[0]
    lines = [
        "# LiftCAM against ONNX Runtime",
        "",
        "Forward passes, batch 1, 224×224, the same seeded random weights and input in both, 2 threads",
        "each (`Benchmarks/compare_onnxruntime.py`: it builds the VGG16 and ResNet50 graphs itself; MobileNetV2 and",
        "EfficientNet-B0 are torchvision exports, one .onnx file run by both). Each",
        f"time is the median over {args.rounds} alternating rounds of the median of {args.repeat} runs after a warm-up.",
        "",
        f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on {cpu} ({os.cpu_count()} cores), "
        f"ONNX Runtime {ort.__version__}, 1-minute load average {load:.2f} at the end.",
        "",
        "| network | ONNX Runtime s | LiftCAM s | LiftCAM / ONNX Runtime | logits, max relative difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for arch, ort_time, liftcam_time, difference in rows:
        lines.append(f"| {arch} | {ort_time:.4f} | {liftcam_time:.4f} | {liftcam_time / ort_time:.2f} | {difference:.1e} |")
    targets = [row for row in rows if row[0] in ("vgg16", "resnet50")]
    met = all(liftcam_time / ort_time <= 0.85 for _, ort_time, liftcam_time, _ in targets)
    ratios = ", ".join(f"{liftcam_time / ort_time:.2f} ({arch})" for arch, ort_time, liftcam_time, _ in rows)
    lines += ["", f"Issue 15's target, at most 0.85 for VGG16 and ResNet50: {'met' if met else 'not met'} here. "
              f"Ratios: {ratios}."]
    # A hand-written "## Notes" section of an earlier run (where the time goes) is kept.
    notes = ""
    if os.path.exists(args.out):
        previous = open(args.out).read()
        if "\n## Notes\n" in previous:
            notes = previous[previous.index("\n## Notes\n"):]
    with open(args.out, "w") as file:
        file.write("\n".join(lines) + "\n" + notes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
