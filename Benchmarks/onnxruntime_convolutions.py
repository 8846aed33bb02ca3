"""ONNX Runtime on each convolution shape of `liftcam-bench conv-layers`, alone, for comparison.

Each shape is a one-node graph (Conv + Relu, bias, "same"-style padding k // 2), run by ONNX Runtime
with 2 intra-op threads and every graph optimisation; the time is the median of 7 batches of 20 runs
after 20 warm-up runs. Run beside `swift run -c release liftcam-bench conv-layers` on a quiet
machine (Benchmarks/README.md, "Against ONNX Runtime"). Needs numpy, onnx and onnxruntime; the
package itself never does.
"""
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# (input channels, output channels, kernel, stride, input size): liftcam-bench conv-layers' list.
SHAPES = [(3, 64, 7, 2, 224), (64, 256, 1, 1, 56), (256, 64, 1, 1, 56), (256, 128, 1, 1, 56),
          (128, 128, 3, 2, 56), (256, 512, 1, 2, 56), (512, 128, 1, 1, 28), (256, 256, 3, 2, 28),
          (512, 1024, 1, 2, 28), (1024, 256, 1, 1, 14), (256, 1024, 1, 1, 14), (512, 512, 3, 2, 14),
          (1024, 2048, 1, 2, 14), (512, 512, 3, 1, 7), (2048, 512, 1, 1, 7), (512, 2048, 1, 1, 7),
          (64, 64, 3, 1, 56), (128, 128, 3, 1, 28), (256, 256, 3, 1, 14)]


def convolution_model(cin, cout, kernel, stride, size, rng):
    weight = numpy_helper.from_array((rng.standard_normal((cout, cin, kernel, kernel)) * 0.05).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")
    out = (size + 2 * (kernel // 2) - kernel) // stride + 1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["z"], kernel_shape=[kernel, kernel], strides=[stride, stride],
                              pads=[kernel // 2] * 4),
             helper.make_node("Relu", ["z"], ["y"])]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, out, out])], [weight, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), out


def main():
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    rng = np.random.default_rng(1)
    print("| convolution | input | ms | GFLOP/s |\n|---|---|---:|---:|")
    for cin, cout, kernel, stride, size in SHAPES:
        model, out = convolution_model(cin, cout, kernel, stride, size, rng)
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feed = {"x": rng.standard_normal((1, cin, size, size)).astype(np.float32)}
        for _ in range(20):
            session.run(None, feed)
        batches = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(20):
                session.run(None, feed)
            batches.append((time.perf_counter() - start) / 20)
        seconds = sorted(batches)[3]
        flops = 2 * cin * cout * kernel * kernel * out * out
        print(f"| {cin}→{cout} {kernel}×{kernel} s{stride} | {cin}×{size}×{size} | {seconds * 1e3:.3f} | {flops / seconds / 1e9:.1f} |")


if __name__ == "__main__":
    main()
