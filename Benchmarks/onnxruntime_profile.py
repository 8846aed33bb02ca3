"""Where ONNX Runtime spends a forward pass, node by node: the counterpart of
`liftcam-bench forward-profile=resnet50` (issue 15's per-layer table).

Builds the same VGG16 or ResNet50 graph as compare_onnxruntime.py (seeded random weights, batch 1,
224×224), runs it with ONNX Runtime's profiler on (2 intra-op threads, every graph optimisation), and
prints each node's median kernel time over the passes after a warm-up, then the same summed by kind
of convolution (kernel, stride, output plane), labelled as liftcam-bench labels them. ONNX Runtime
fuses batch-norm and ReLU into its convolutions and, in its NCHWc layout, the residual add + ReLU
into the convolution before it: a "Conv" row may hold what LiftCAM reports as two rows.

Run: python3 Benchmarks/onnxruntime_profile.py [--arch resnet50] [--passes 30]
Needs numpy, onnx and onnxruntime (never a dependency of the package).
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_onnxruntime  # noqa: E402  (the graph builders)


def plane(shape):
    """(height, width) of an NCHW or NCHWc activation shape."""
    return shape[2], shape[3]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet50", choices=["resnet50", "vgg16"])
    parser.add_argument("--passes", type=int, default=30)
    args = parser.parse_args()
    builder = {"resnet50": compare_onnxruntime.build_resnet50, "vgg16": compare_onnxruntime.build_vgg16}[args.arch]
    graph, output = builder(seed=1)
    with tempfile.TemporaryDirectory() as work:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(work, "profile")
        session = ort.InferenceSession(graph.model(output).SerializeToString(), options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(2).normal(0, 1, (1, 3, 224, 224)).astype(np.float32)
        for _ in range(args.passes):
            session.run(None, {"x": x})
        with open(session.end_profiling()) as file:
            events = json.load(file)

    times = collections.defaultdict(list)
    described = {}
    order = []
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        name = event["name"][: -len("_kernel_time")]
        if name not in described:
            order.append(name)
            node = event["args"]
            inputs = [next(iter(shape.values())) for shape in node.get("input_type_shape", [])]
            outputs = [next(iter(shape.values())) for shape in node.get("output_type_shape", [])]
            kind = "other: " + node.get("op_name", "?")
            if node.get("op_name") == "Conv" and len(inputs) >= 2 and len(inputs[1]) == 4:
                kernel = inputs[1][2]
                (height, _), (out_height, out_width) = plane(inputs[0]), plane(outputs[0])
                stride = max(1, round(height / out_height))
                kind = f"{kernel}×{kernel} stride {stride} on {out_height}×{out_width}"
            described[name] = (node.get("op_name", "?"), kind)
        times[name].append(event["dur"] / 1000)

    skip = min(5, args.passes - 1)
    rows = [(name, described[name][0], described[name][1], statistics.median(times[name][skip:])) for name in order]
    total = sum(row[3] for row in rows)
    print(f"ONNX Runtime {ort.__version__}, {args.arch}, median of {args.passes - skip} profiled passes, 2 threads\n")
    print("| node | op | kind | ms |\n|---|---|---|---:|")
    for name, op, kind, ms in rows:
        print(f"| {name} | {op} | {kind} | {ms:.3f} |")
    print(f"| sum of nodes | | | {total:.2f} |")
    by_kind = collections.defaultdict(float)
    for _, _, kind, ms in rows:
        by_kind[kind] += ms
    print("\n| kind | ms | share |\n|---|---:|---:|")
    for kind, ms in sorted(by_kind.items(), key=lambda item: -item[1]):
        print(f"| {kind} | {ms:.2f} | {100 * ms / total:.1f} % |")


if __name__ == "__main__":
    main()
