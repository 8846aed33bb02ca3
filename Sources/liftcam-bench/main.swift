// liftcam-bench: each fast kernel against its naive twin, in the same run, as a Markdown table.
// Run: swift run -c release liftcam-bench   (about a minute on 2 cores; see Benchmarks/README.md)
import LiftCAM

/// C = A·B on fresh buffers: `gemm` or `gemmNaive`, no transposes.
func benchmarkGEMM(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, repetitions: Int) {
    let form = (transA ? "ᵀ" : "") + "·" + (transB ? "ᵀ" : "")
    guard isSelected("gemm \(form)") else { return }
    let a = benchTensor([m * k], seed: 1).storage, b = benchTensor([k * n], seed: 2).storage
    var c = [Float](repeating: 0, count: m * n)
    let run = { (fast: Bool) in
        a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
            let multiply = fast ? gemm : gemmNaive
            multiply(m, n, k, a.baseAddress!, transA ? m : k, transA, b.baseAddress!, transB ? k : n, transB,
                     c.baseAddress!, n, false)
        }}}
    }
    measure("gemm \(form)", "\(m)×\(n)×\(k)", flops: 2.0 * Double(m * n * k), repetitions: repetitions,
            fast: { run(true) }, naive: { run(false) })
}

/// One VGG-like convolution layer (3×3, padding 1, batch 1), forward or input gradient.
func benchmarkConvolution(_ inChannels: Int, _ outChannels: Int, size: Int, backward: Bool = false,
                          repetitions: Int) {
    guard isSelected(backward ? "conv2dBackwardInput" : "conv2d") else { return }
    let shape = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: 3, kernelWidth: 3,
                            paddingHeight: 1, paddingWidth: 1)
    let x = benchTensor([1, inChannels, size, size], seed: 3), weight = benchTensor([outChannels, inChannels, 3, 3], seed: 4)
    let bias = benchTensor([outChannels], seed: 5), dy = benchTensor([1, outChannels, size, size], seed: 6)
    let flops = 2.0 * Double(outChannels * inChannels * 9 * size * size)
    let label = "\(inChannels)→\(outChannels) 3×3 on \(size)×\(size)"
    if backward {
        measure("conv2dBackwardInput", label, flops: flops, repetitions: repetitions,
                fast: { _ = conv2dBackwardInput(dy, weight: weight, shape: shape, inputHeight: size, inputWidth: size) },
                naive: { _ = conv2dBackwardInputNaive(dy, weight: weight, shape: shape, inputHeight: size, inputWidth: size) })
    } else {
        measure("conv2d", label, flops: flops, repetitions: repetitions,
                fast: { _ = conv2d(x, weight: weight, bias: bias, shape: shape) },
                naive: { _ = conv2dNaive(x, weight: weight, bias: bias, shape: shape) })
    }
}

print("liftcam-bench: \(workerCount) worker threads; fast = best of several runs, naive = one run.")
print("")
print("| kernel | size | fast ms | fast GFLOP/s | naive timed on | naive ms | naive GFLOP/s | speed-up |")
print("|---|---|---:|---:|---|---:|---:|---:|")

benchmarkGEMM(m: 512, n: 512, k: 512, repetitions: 10)
benchmarkGEMM(m: 512, n: 512, k: 512, transA: true, transB: true, repetitions: 10)
benchmarkGEMM(m: 64, n: 3136, k: 576, repetitions: 10)
benchmarkGEMM(m: 512, n: 196, k: 4608, repetitions: 10)

benchmarkConvolution(3, 64, size: 224, repetitions: 5)
benchmarkConvolution(64, 64, size: 56, repetitions: 10)
benchmarkConvolution(256, 256, size: 28, repetitions: 5)
benchmarkConvolution(512, 512, size: 14, repetitions: 5)
benchmarkConvolution(512, 512, size: 14, backward: true, repetitions: 5)

if isSelected("linear") {
    // VGG16's first fully connected layer, 25088 → 4096: 411 MB of weights, read once per call.
    let weight = benchTensor([4096, 25088], seed: 7), bias = benchTensor([4096], seed: 8)
    let one = benchTensor([1, 25088], seed: 9), batch = benchTensor([64, 25088], seed: 10)
    let fewer = benchTensor([4, 25088], seed: 10), gradient = benchTensor([1, 4096], seed: 11)
    let matvecFlops = 2.0 * 25088 * 4096
    measure("linear (matvec)", "1×25088 → 4096", flops: matvecFlops, repetitions: 5,
                fast: { _ = linear(one, weight: weight, bias: bias) },
                naive: { _ = linearNaive(one, weight: weight, bias: bias) })
    measure("linear (batched)", "64×25088 → 4096", flops: 64 * matvecFlops, repetitions: 3,
                naiveSize: "N = 4", naiveFlops: 4 * matvecFlops,
                fast: { _ = linear(batch, weight: weight, bias: bias) },
                naive: { _ = linearNaive(fewer, weight: weight, bias: bias) })
    measure("linearBackwardInput", "1×4096 → 25088", flops: matvecFlops, repetitions: 5,
                fast: { _ = linearBackwardInput(gradient, weight: weight) },
                naive: { _ = linearBackwardInputNaive(gradient, weight: weight) })
}

if ["maxPool2d", "avgPool2d", "relu", "add", "channelAffine", "adaptiveAvgPool2d", "bilinearResize"].contains(where: isSelected) {
    // Data-movement kernels at VGG16 sizes (no GFLOP/s: they are bound by memory, not arithmetic).
    let activations = benchTensor([1, 64, 224, 224], seed: 12), other = benchTensor([1, 64, 224, 224], seed: 13)
    let pool = Pool2dShape(kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2)
    measure("maxPool2d", "64×224×224, 2×2 s2", flops: nil, repetitions: 10,
                fast: { _ = maxPool2d(activations, shape: pool) }, naive: { _ = maxPool2dNaive(activations, shape: pool) })
    measure("avgPool2d", "64×224×224, 2×2 s2", flops: nil, repetitions: 10,
                fast: { _ = avgPool2d(activations, shape: pool) }, naive: { _ = avgPool2dNaive(activations, shape: pool) })
    measure("relu", "64×224×224", flops: nil, repetitions: 10,
                fast: { _ = relu(activations) }, naive: { _ = reluNaive(activations) })
    measure("add", "64×224×224", flops: nil, repetitions: 10,
                fast: { _ = add(activations, other) }, naive: { _ = addNaive(activations, other) })
    let scale = benchTensor([64], seed: 14).storage, shift = benchTensor([64], seed: 15).storage
    measure("channelAffine", "64×224×224", flops: nil, repetitions: 10,
                fast: { _ = channelAffine(activations, scale: scale, shift: shift) },
                naive: { _ = channelAffineNaive(activations, scale: scale, shift: shift) })
    let features = benchTensor([1, 512, 14, 14], seed: 16)
    measure("adaptiveAvgPool2d", "512×14×14 → 7×7", flops: nil, repetitions: 10,
                fast: { _ = adaptiveAvgPool2d(features, outputHeight: 7, outputWidth: 7) },
                naive: { _ = adaptiveAvgPool2dNaive(features, outputHeight: 7, outputWidth: 7) })
    let maps = benchTensor([64, 7, 7], seed: 17)
    measure("bilinearResize", "64×7×7 → 224×224", flops: nil, repetitions: 5,
                fast: { _ = bilinearResize(maps, height: 224, width: 224) },
                naive: { _ = bilinearResizeNaive(maps, height: 224, width: 224) })
}
