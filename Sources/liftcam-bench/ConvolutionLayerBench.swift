// `liftcam-bench conv-layers`: each distinct convolution of ResNet50, timed alone as a layer with a
// ReLU (the path a forward pass takes: Winograd, GEMM, or the transposed product on 7×7), best of
// 30 runs. Benchmarks/onnxruntime_convolutions.py times the same shapes in ONNX Runtime.
import LiftCAM

/// (input channels, output channels, kernel, stride, input size) of each shape timed.
private let resNetConvolutionShapes: [(Int, Int, Int, Int, Int)] = [
    (3, 64, 7, 2, 224), (64, 256, 1, 1, 56), (256, 64, 1, 1, 56), (256, 128, 1, 1, 56),
    (128, 128, 3, 2, 56), (256, 512, 1, 2, 56), (512, 128, 1, 1, 28), (256, 256, 3, 2, 28),
    (512, 1024, 1, 2, 28), (1024, 256, 1, 1, 14), (256, 1024, 1, 1, 14), (512, 512, 3, 2, 14),
    (1024, 2048, 1, 2, 14), (512, 512, 3, 1, 7), (2048, 512, 1, 1, 7), (512, 2048, 1, 1, 7),
    (64, 64, 3, 1, 56), (128, 128, 3, 1, 28), (256, 256, 3, 1, 14),
]

func runConvolutionLayerBenchmarks() {
    print("| convolution | input | ms | GFLOP/s |")
    print("|---|---|---:|---:|")
    for (seed, (inChannels, outChannels, kernel, stride, size)) in resNetConvolutionShapes.enumerated() {
        let shape = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: kernel, kernelWidth: kernel,
                                strideHeight: stride, strideWidth: stride, paddingHeight: kernel / 2, paddingWidth: kernel / 2)
        let convolution = Conv2dLayer(name: "conv", weight: benchTensor(shape.weightShape, seed: UInt64(2 * seed + 1)),
                                      bias: benchTensor([outChannels], seed: UInt64(2 * seed + 2)), geometry: shape)
        let layer = ConvolutionReLU(convolution: convolution, relu: ReLULayer(name: "relu"))
        let x = benchTensor([1, inChannels, size, size], seed: 99)
        let output = shape.outputSize(height: size, width: size)
        let flops = 2.0 * Double(inChannels * outChannels * kernel * kernel * output.height * output.width)
        let seconds = fastestRun(repetitions: 30) { _ = layer.forward(x) }
        print("| \(inChannels)→\(outChannels) \(kernel)×\(kernel) s\(stride) | \(inChannels)×\(size)×\(size) | "
            + "\(formatted(seconds * 1e3, digits: 3)) | \(formatted(flops / seconds / 1e9, digits: 1)) |")
    }
}
