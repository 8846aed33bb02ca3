// liftcam-bench: each fast kernel against its naive twin, in the same run, as a Markdown table.
// Run: swift run -c release liftcam-bench   (about 15 s on 2 cores; see Benchmarks/README.md)
//      swift run -c release liftcam-bench methods   (the CAM methods on vgg16/resnet50/resnet18)
import LiftCAM

keepFreedMemoryInHeap()   // as the liftcam tool does
// `threads=N` among the arguments runs on N worker threads (default: all cores).
if let threads = CommandLine.arguments.first(where: { $0.hasPrefix("threads=") }).flatMap({ Int($0.dropFirst(8)) }) {
    limitWorkerThreads(to: threads)
}

/// C = op(A)·op(B) on buffers of values in [-1, 1): `gemm` against `gemmNaive`.
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
                     c.baseAddress!, n, false, nil, nil)
        }}}
    }
    measure("gemm \(form)", "\(m)×\(n)×\(k)", work: .flops(2.0 * Double(m * n * k)), repetitions: repetitions,
            fast: { run(true) }, naive: { run(false) })
}

/// One convolution layer (k×k, "same" padding), forward or input gradient, on a batch; the naive twin
/// runs on the first item only when the batch has more.
func benchmarkConvolution(_ inChannels: Int, _ outChannels: Int, size: Int, kernel: Int = 3, batch: Int = 1,
                          backward: Bool = false, repetitions: Int) {
    guard isSelected(backward ? "conv2dBackwardInput" : "conv2d") else { return }
    let shape = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: kernel, kernelWidth: kernel,
                            paddingHeight: kernel / 2, paddingWidth: kernel / 2)
    let weight = benchTensor([outChannels, inChannels, kernel, kernel], seed: 4), bias = benchTensor([outChannels], seed: 5)
    let x = benchTensor([batch, inChannels, size, size], seed: 3), dy = benchTensor([batch, outChannels, size, size], seed: 6)
    let first = x.item(0).batched, firstGradient = dy.item(0).batched
    let flops = 2.0 * Double(batch * outChannels * inChannels * kernel * kernel * size * size)
    let label = "\(inChannels)→\(outChannels) \(kernel)×\(kernel) on \(size)×\(size)" + (batch > 1 ? ", N = \(batch)" : "")
    let naiveSize = batch > 1 ? "N = 1" : "same", naiveShare = 1 / Double(batch)
    if backward {
        measure("conv2dBackwardInput", label, work: .flops(flops), repetitions: repetitions,
                naiveSize: naiveSize, naiveShare: naiveShare,
                fast: { _ = conv2dBackwardInput(dy, weight: weight, shape: shape, inputHeight: size, inputWidth: size) },
                naive: { _ = conv2dBackwardInputNaive(firstGradient, weight: weight, shape: shape, inputHeight: size, inputWidth: size) })
    } else {
        measure("conv2d", label, work: .flops(flops), repetitions: repetitions,
                naiveSize: naiveSize, naiveShare: naiveShare,
                fast: { _ = conv2d(x, weight: weight, bias: bias, shape: shape) },
                naive: { _ = conv2dNaive(first, weight: weight, bias: bias, shape: shape) })
    }
}

/// A depthwise (groups = channels) or grouped k×k convolution with PyTorch's "same"-style padding
/// k / 2, forward or input gradient, against the naive twin. Rates count 2 flops per multiply-add.
func benchmarkGroupedConvolution(_ channels: Int, size: Int, kernel: Int = 3, stride: Int = 1, groups: Int? = nil,
                                 backward: Bool = false, repetitions: Int) {
    let depthwise = groups == nil
    let kernelName = (depthwise ? "depthwise" : "grouped") + (backward ? " backward" : "")
    guard isSelected(kernelName) else { return }
    let shape = Conv2dShape(inChannels: channels, outChannels: channels, kernelHeight: kernel, kernelWidth: kernel,
                            strideHeight: stride, strideWidth: stride, paddingHeight: kernel / 2, paddingWidth: kernel / 2,
                            groups: groups ?? channels)
    let (outputHeight, outputWidth) = shape.outputSize(height: size, width: size)
    let weight = benchTensor(shape.weightShape, seed: 4), bias = benchTensor([channels], seed: 5)
    let x = benchTensor([1, channels, size, size], seed: 3), dy = benchTensor([1, channels, outputHeight, outputWidth], seed: 6)
    let flops = 2.0 * Double(channels * shape.inChannelsPerGroup * kernel * kernel * outputHeight * outputWidth)
    let label = "\(channels)×\(size)×\(size) \(kernel)×\(kernel) s\(stride)" + (depthwise ? "" : ", \(groups!) groups")
    if backward {
        measure(kernelName, label, work: .flops(flops), repetitions: repetitions,
                fast: { _ = conv2dBackwardInput(dy, weight: weight, shape: shape, inputHeight: size, inputWidth: size) },
                naive: { _ = conv2dBackwardInputNaive(dy, weight: weight, shape: shape, inputHeight: size, inputWidth: size) })
    } else {
        measure(kernelName, label, work: .flops(flops), repetitions: repetitions,
                fast: { _ = conv2d(x, weight: weight, bias: bias, shape: shape) },
                naive: { _ = conv2dNaive(x, weight: weight, bias: bias, shape: shape) })
    }
}

print("liftcam-bench: \(workerCount) worker threads; fast = best of several runs, naive = one run.")
print("")
print("| kernel | size | fast ms | fast rate | naive timed on | naive ms | naive rate | speed-up |")
print("|---|---|---:|---:|---|---:|---:|---:|")

benchmarkGEMM(m: 512, n: 512, k: 512, repetitions: 10)
benchmarkGEMM(m: 512, n: 512, k: 512, transA: true, transB: true, repetitions: 10)
benchmarkGEMM(m: 64, n: 3136, k: 576, repetitions: 10)
benchmarkGEMM(m: 512, n: 196, k: 4608, repetitions: 10)
benchmarkGEMM(m: 512, n: 49, k: 4608, repetitions: 20)    // ResNet50's layer4 3×3 convolutions, unfolded

benchmarkConvolution(3, 64, size: 224, repetitions: 5)
benchmarkConvolution(64, 64, size: 56, repetitions: 10)
benchmarkConvolution(256, 256, size: 28, repetitions: 5)
benchmarkConvolution(512, 512, size: 14, repetitions: 5)
benchmarkConvolution(512, 512, size: 14, backward: true, repetitions: 5)
benchmarkConvolution(512, 512, size: 14, batch: 8, repetitions: 3)
benchmarkConvolution(2048, 512, size: 7, kernel: 1, batch: 16, repetitions: 5)
benchmarkConvolution(2048, 512, size: 7, kernel: 1, batch: 16, backward: true, repetitions: 5)

// MobileNetV2's depthwise layers (and EfficientNet's 5×5); a RegNet-style grouped 3×3 (group width 16).
benchmarkGroupedConvolution(144, size: 56, repetitions: 20)
benchmarkGroupedConvolution(96, size: 112, stride: 2, repetitions: 20)
benchmarkGroupedConvolution(240, size: 28, kernel: 5, repetitions: 20)
benchmarkGroupedConvolution(960, size: 7, repetitions: 20)
benchmarkGroupedConvolution(144, size: 56, backward: true, repetitions: 20)
benchmarkGroupedConvolution(96, size: 112, stride: 2, backward: true, repetitions: 20)
benchmarkGroupedConvolution(256, size: 28, groups: 16, repetitions: 10)
benchmarkGroupedConvolution(256, size: 28, groups: 32, repetitions: 10)
benchmarkGroupedConvolution(256, size: 28, groups: 8, repetitions: 10)
benchmarkGroupedConvolution(256, size: 28, groups: 16, backward: true, repetitions: 10)

if isSelected("linear") || isSelected("blockwiseLinear") {
    // VGG16's first fully connected layer, 25088 → 4096: 411 MB of weights, read once per call.
    let weight = benchTensor([4096, 25088], seed: 7), bias = benchTensor([4096], seed: 8)
    let matvecFlops = 2.0 * 25088 * 4096
    let one = benchTensor([1, 25088], seed: 9), four = benchTensor([4, 25088], seed: 10)
    let batch = benchTensor([64, 25088], seed: 11)
    measure("linear", "1×25088 → 4096", work: .flops(matvecFlops), repetitions: 5,
            fast: { _ = linear(one, weight: weight, bias: bias) },
            naive: { _ = linearNaive(one, weight: weight, bias: bias) })
    measure("linear", "4×25088 → 4096", work: .flops(4 * matvecFlops), repetitions: 5,
            fast: { _ = linear(four, weight: weight, bias: bias) },
            naive: { _ = linearNaive(four, weight: weight, bias: bias) })
    measure("linear", "64×25088 → 4096", work: .flops(64 * matvecFlops), repetitions: 3,
            naiveSize: "N = 4", naiveShare: 4.0 / 64,
            fast: { _ = linear(batch, weight: weight, bias: bias) },
            naive: { _ = linearNaive(four, weight: weight, bias: bias) })
    // The same product split into one term per activation map (HeadDecomposition): 512 blocks of 7×7.
    measure("blockwiseLinear", "25088 → 4096 in 512 blocks", work: .flops(matvecFlops), repetitions: 5,
            fast: { _ = blockwiseLinear(weight: weight, input: one, blocks: 512) },
            naive: { _ = blockwiseLinearNaive(weight: weight, input: one, blocks: 512) })
    let gradient = benchTensor([1, 4096], seed: 12), gradients = benchTensor([64, 4096], seed: 13)
    let fewGradients = benchTensor([4, 4096], seed: 14)
    measure("linearBackwardInput", "1×4096 → 25088", work: .flops(matvecFlops), repetitions: 5,
            fast: { _ = linearBackwardInput(gradient, weight: weight) },
            naive: { _ = linearBackwardInputNaive(gradient, weight: weight) })
    measure("linearBackwardInput", "64×4096 → 25088", work: .flops(64 * matvecFlops), repetitions: 3,
            naiveSize: "N = 4", naiveShare: 4.0 / 64,
            fast: { _ = linearBackwardInput(gradients, weight: weight) },
            naive: { _ = linearBackwardInputNaive(fewGradients, weight: weight) })
}

let dataMovementKernels = ["maxPool2d", "maxPool2dValues", "avgPool2d", "relu", "add", "channelAffine", "adaptiveAvgPool2d", "bilinearResize"]
if dataMovementKernels.contains(where: isSelected) {
    // Kernels bound by memory, not arithmetic, at VGG16 sizes: rates are bytes read and written.
    let activations = benchTensor([1, 64, 224, 224], seed: 15), other = benchTensor([1, 64, 224, 224], seed: 16)
    let planeBytes = 4.0 * 64 * 224 * 224
    let pool = Pool2dShape(kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2)
    measure("maxPool2d", "64×224×224, 2×2 s2", work: .bytes(1.5 * planeBytes), repetitions: 10,
            fast: { _ = maxPool2d(activations, shape: pool) }, naive: { _ = maxPool2dNaive(activations, shape: pool) })
    // The forward pass's pool, values only: on VGG's shape, and on ResNet's stem against the argmax kernel.
    let stem = benchTensor([1, 64, 112, 112], seed: 17)
    let stemPool = Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
    measure("maxPool2dValues", "64×224×224, 2×2 s2", work: .bytes(1.25 * planeBytes), repetitions: 10,
            fast: { _ = maxPool2dValues(activations, shape: pool) }, naive: { _ = maxPool2dNaive(activations, shape: pool) })
    measure("maxPool2dValues", "64×112×112, 3×3 s2 p1", work: .bytes(1.25 * planeBytes / 4), repetitions: 20,
            naiveSize: "maxPool2d", fast: { _ = maxPool2dValues(stem, shape: stemPool) }, naive: { _ = maxPool2d(stem, shape: stemPool) })
    measure("avgPool2d", "64×224×224, 2×2 s2", work: .bytes(1.25 * planeBytes), repetitions: 10,
            fast: { _ = avgPool2d(activations, shape: pool) }, naive: { _ = avgPool2dNaive(activations, shape: pool) })
    measure("relu", "64×224×224", work: .bytes(2 * planeBytes), repetitions: 10,
            fast: { _ = relu(activations) }, naive: { _ = reluNaive(activations) })
    for (name, function) in [("relu6", ElementwiseFunction.clip(lower: 0, upper: 6)), ("silu", .silu), ("sigmoid", .sigmoid),
                             ("hardswish", .hardSwish)] {
        measure(name, "64×224×224", work: .bytes(2 * planeBytes), repetitions: 10,
                fast: { _ = applyElementwise(function, activations) }, naive: { _ = applyElementwiseNaive(function, activations) })
    }
    measure("add", "64×224×224", work: .bytes(3 * planeBytes), repetitions: 10,
            fast: { _ = add(activations, other) }, naive: { _ = addNaive(activations, other) })
    let scale = benchTensor([64], seed: 17).storage, shift = benchTensor([64], seed: 18).storage
    measure("channelAffine", "64×224×224", work: .bytes(2 * planeBytes), repetitions: 10,
            fast: { _ = channelAffine(activations, scale: scale, shift: shift) },
            naive: { _ = channelAffineNaive(activations, scale: scale, shift: shift) })
    let features = benchTensor([1, 512, 14, 14], seed: 19)
    measure("adaptiveAvgPool2d", "512×14×14 → 7×7", work: .bytes(4.0 * 512 * (196 + 49)), repetitions: 10,
            fast: { _ = adaptiveAvgPool2d(features, outputHeight: 7, outputWidth: 7) },
            naive: { _ = adaptiveAvgPool2dNaive(features, outputHeight: 7, outputWidth: 7) })
    let maps = benchTensor([64, 7, 7], seed: 20)
    measure("bilinearResize", "64×7×7 → 224×224", work: .bytes(4.0 * 64 * (49 + 224 * 224)), repetitions: 10,
            fast: { _ = bilinearResize(maps, height: 224, width: 224) },
            naive: { _ = bilinearResizeNaive(maps, height: 224, width: 224) })
}

if rowFilters.contains(where: { $0.hasPrefix("winograd") }) { runWinogradBenchmarks() }
if rowFilters.contains("conv-layers") { runConvolutionLayerBenchmarks() }

// The forward table runs only when asked for by name (it builds torchvision-sized networks).
if rowFilters.contains(where: { $0.hasPrefix("forward") }) {
    if let onnx = rowFilters.first(where: { $0.hasPrefix("forward-profile=") && $0.hasSuffix(".onnx") }) {
        do { try profileGraph(path: String(onnx.dropFirst("forward-profile=".count))) } catch { print("profile failed: \(error)") }
    } else {
        do { try runForwardBenchmarks(profile: rowFilters.contains { $0.hasPrefix("forward-profile") }) } catch { print("forward benchmark failed: \(error)") }
    }
}

// The methods table runs only when asked for by name (it builds torchvision-sized networks).
if rowFilters.contains("methods") {
    do { try runMethodBenchmarks() } catch { print("methods benchmark failed: \(error)") }
}

if rowFilters.contains("handoff") { runHandOffBenchmarks() }
