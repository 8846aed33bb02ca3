import LiftCAM

/// Winograd F(4×4, 3×3) against the direct convolution (im2col + GEMM) on each VGG16 layer shape,
/// same weights and input, in the same run; best of several runs each. The weight transform is done
/// once beforehand, as the layers do. Rates count the direct convolution's arithmetic for both, so
/// Winograd's rate is "effective". Run: `liftcam-bench winograd`.
func runWinogradBenchmarks() {
    print("")
    print("| winograd layer | direct ms | winograd ms | speed-up | direct GFLOP/s | winograd effective GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|")
    let layers = [(64, 64, 224, 1), (64, 128, 112, 1), (128, 128, 112, 1), (128, 256, 56, 1), (256, 256, 56, 1),
                  (256, 512, 28, 1), (512, 512, 28, 1), (512, 512, 14, 1), (512, 512, 14, 8), (256, 256, 14, 1),
                  (512, 512, 7, 8), (64, 64, 56, 1), (128, 128, 28, 1)]
    let only = rowFilters.first { $0.hasPrefix("winograd=") }.map { String($0.dropFirst(9)) }
    for (inChannels, outChannels, size, batch) in layers {
        if let only, only != "\(inChannels)-\(outChannels)-\(size)-\(batch)" { continue }
        let shape = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: 3, kernelWidth: 3,
                                paddingHeight: 1, paddingWidth: 1)
        let weight = benchTensor([outChannels, inChannels, 3, 3], seed: 4), bias = benchTensor([outChannels], seed: 5)
        let x = benchTensor([batch, inChannels, size, size], seed: 3)
        let transformed = WinogradWeights(weight: weight)
        let repetitions = size >= 112 ? 5 : 10
        let direct = fastestRun(repetitions: repetitions) { _ = conv2d(x, weight: weight, bias: bias, shape: shape) }
        let winograd = fastestRun(repetitions: repetitions) {
            _ = conv2dWinograd(x, weights: transformed, bias: bias, shape: shape)
        }
        let flops = 2.0 * Double(batch * outChannels * inChannels * 9 * size * size)
        let label = "\(inChannels)→\(outChannels) on \(size)×\(size)" + (batch > 1 ? ", N = \(batch)" : "")
        print("| \(label) | \(formatted(direct * 1e3, digits: 2)) | \(formatted(winograd * 1e3, digits: 2)) | "
            + "\(formatted(direct / winograd, digits: 2))× | \(formatted(flops / direct / 1e9, digits: 1)) | "
            + "\(formatted(flops / winograd / 1e9, digits: 1)) |")
    }
}
