// The kernels as a dependency build compiles them on x86-64: no CPU flags, so
// LIFTCAM_SEPARATE_MULTIPLY_ADD (separate multiply and add, the 6×8 SSE strips of the GEMM
// micro-kernel). Compiled together with the core's sources by PortableBuildTests, this program
// holds every multiply-add kernel against its naive twin on many shapes and exits 1 on the first
// disagreement. Tolerance as in KernelTwinTests: max |Δ| ≤ 1e-4 · (1 + max |naive|).

import Glibc  // exit only

/// Values in [-1, 1) from the core's seeded generator.
func pseudoRandomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SplitMix64(seed: seed)
    return Tensor(shape: shape, storage: (0 ..< shape.reduce(1, *)).map { _ in Float.random(in: -1 ..< 1, using: &generator) })
}

var failures = 0
var checks = 0

func check(_ name: String, _ fast: [Float], _ naive: [Float]) {
    checks += 1
    var largest: Float = 0, difference: Float = 0
    for (f, n) in zip(fast, naive) {
        largest = max(largest, abs(n))
        difference = max(difference, abs(f - n))
    }
    if fast.count != naive.count || !(difference <= 1e-4 * (1 + largest)) {
        failures += 1
        print("FAIL \(name): max |Δ| \(difference), max |naive| \(largest), counts \(fast.count) \(naive.count)")
    }
}

@main
struct KernelCheck {
    static func main() {
        // GEMM: edge tiles in both directions (6 × 16 micro-tiles), deep slabs, every transpose, accumulate.
        let shapes = [(1, 1, 1), (5, 15, 3), (6, 16, 8), (7, 17, 9), (13, 33, 70), (64, 50, 257), (100, 3, 600),
                      (37, 129, 31), (300, 200, 130)]
        for (index, (m, n, k)) in shapes.enumerated() {
            for transA in [false, true] {
                for transB in [false, true] {
                    for accumulate in [false, true] {
                        let a = pseudoRandomTensor([m * k], seed: UInt64(index * 8 + 1)).storage
                        let b = pseudoRandomTensor([k * n], seed: UInt64(index * 8 + 2)).storage
                        let start = pseudoRandomTensor([m * n], seed: UInt64(index * 8 + 3)).storage
                        var fast = start, naive = start
                        let lda = transA ? m : k, ldb = transB ? k : n
                        fast.withUnsafeMutableBufferPointer { c in
                            gemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                 c: c.baseAddress!, ldc: n, accumulate: accumulate)
                        }
                        naive.withUnsafeMutableBufferPointer { c in
                            gemmNaive(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                      c: c.baseAddress!, ldc: n, accumulate: accumulate)
                        }
                        check("gemm \(m)×\(n)×\(k) transA \(transA) transB \(transB) accumulate \(accumulate)", fast, naive)
                    }
                }
            }
        }
        // Linear layers: dot products (forward), axpy (backward), block dot products.
        for (batch, inputs, outputs) in [(1, 5, 3), (2, 70, 9), (3, 129, 40), (1, 1024, 17)] {
            let x = pseudoRandomTensor([batch, inputs], seed: 11), weight = pseudoRandomTensor([outputs, inputs], seed: 12)
            let bias = pseudoRandomTensor([outputs], seed: 13), g = pseudoRandomTensor([batch, outputs], seed: 14)
            check("linear \(batch)×\(inputs)→\(outputs)", linear(x, weight: weight, bias: bias).storage,
                  linearNaive(x, weight: weight, bias: bias).storage)
            check("linearBackwardInput \(batch)×\(outputs)→\(inputs)", linearBackwardInput(g, weight: weight).storage,
                  linearBackwardInputNaive(g, weight: weight).storage)
        }
        for (outputs, blocks, block) in [(3, 2, 5), (9, 4, 16), (17, 3, 49), (40, 8, 37)] {
            let weight = pseudoRandomTensor([outputs, blocks * block], seed: 21), input = pseudoRandomTensor([blocks * block], seed: 22)
            check("blockwiseLinear \(outputs)×\(blocks)×\(block)", blockwiseLinear(weight: weight, input: input, blocks: blocks).storage,
                  blockwiseLinearNaive(weight: weight, input: input, blocks: blocks).storage)
        }
        // Convolutions through im2col + GEMM and Winograd, which both end in the micro-kernel.
        for (channels, outChannels, size, kernel, stride, padding) in [(3, 8, 9, 3, 1, 1), (5, 13, 12, 3, 1, 1), (4, 7, 11, 3, 2, 1),
                                                                       (6, 20, 7, 1, 1, 0), (16, 33, 14, 3, 1, 1)] {
            let geometry = Conv2dShape(inChannels: channels, outChannels: outChannels, kernelHeight: kernel, kernelWidth: kernel,
                                       strideHeight: stride, strideWidth: stride, paddingHeight: padding, paddingWidth: padding)
            let x = pseudoRandomTensor([2, channels, size, size], seed: 31)
            let weight = pseudoRandomTensor([outChannels, channels, kernel, kernel], seed: 32)
            let bias = pseudoRandomTensor([outChannels], seed: 33)
            let naive = conv2dNaive(x, weight: weight, bias: bias, shape: geometry)
            check("conv2d \(channels)→\(outChannels) \(kernel)×\(kernel)/\(stride) on \(size)²", conv2d(x, weight: weight, bias: bias, shape: geometry).storage, naive.storage)
            if kernel == 3 && stride == 1 {
                check("conv2dWinograd \(channels)→\(outChannels) on \(size)²", conv2dWinograd(x, weight: weight, bias: bias, shape: geometry).storage, naive.storage)
            }
            let g = pseudoRandomTensor(naive.shape, seed: 34)
            check("conv2dBackwardInput \(channels)→\(outChannels) \(kernel)×\(kernel)/\(stride)",
                  conv2dBackwardInput(g, weight: weight, shape: geometry, inputHeight: size, inputWidth: size).storage,
                  conv2dBackwardInputNaive(g, weight: weight, shape: geometry, inputHeight: size, inputWidth: size).storage)
        }
        // Depthwise convolutions (SIMD rows over padded, phase-split planes; stride 1's gradient as a
        // correlation), grouped ones (the same direct rows up to 8 channels a group, above that im2col +
        // GEMM per group), with dilation and per-side padding.
        let grouped = [
            Conv2dShape(inChannels: 8, outChannels: 8, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1, groups: 8),
            Conv2dShape(inChannels: 6, outChannels: 12, kernelHeight: 5, kernelWidth: 5, strideHeight: 2, strideWidth: 2,
                        paddingHeight: 1, paddingWidth: 2, paddingBottom: 2, paddingRight: 1, groups: 6),
            Conv2dShape(inChannels: 5, outChannels: 5, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 3,
                        paddingHeight: 1, paddingWidth: 1, dilationHeight: 2, dilationWidth: 2, groups: 5),
            Conv2dShape(inChannels: 8, outChannels: 12, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 0,
                        paddingRight: 2, dilationHeight: 2, groups: 4),
            Conv2dShape(inChannels: 6, outChannels: 9, kernelHeight: 1, kernelWidth: 1, groups: 3),
            Conv2dShape(inChannels: 40, outChannels: 6, kernelHeight: 3, kernelWidth: 3, strideWidth: 2, paddingHeight: 1,
                        paddingWidth: 1, paddingBottom: 0, groups: 2),
        ]
        for (index, geometry) in grouped.enumerated() {
            let (height, width) = (13 + 5 * index, 19 + 7 * index)
            let x = pseudoRandomTensor([2, geometry.inChannels, height, width], seed: 41)
            let weight = pseudoRandomTensor(geometry.weightShape, seed: 42)
            let bias = pseudoRandomTensor([geometry.outChannels], seed: 43)
            let naive = conv2dNaive(x, weight: weight, bias: bias, shape: geometry)
            check("conv2d \(geometry) on \(height)×\(width)", conv2d(x, weight: weight, bias: bias, shape: geometry).storage, naive.storage)
            if geometry.isDepthwise {
                check("conv2dDepthwise ReLU \(geometry)",
                      conv2dDepthwise(x, weight: weight, bias: bias, shape: geometry, applyReLU: true).storage, reluNaive(naive).storage)
            }
            let g = pseudoRandomTensor(naive.shape, seed: 44)
            check("conv2dBackwardInput \(geometry)",
                  conv2dBackwardInput(g, weight: weight, shape: geometry, inputHeight: height, inputWidth: width).storage,
                  conv2dBackwardInputNaive(g, weight: weight, shape: geometry, inputHeight: height, inputWidth: width).storage)
        }
        // The elementwise nonlinearities: their exponential's polynomial runs on multiplyAdd.
        let wide = pseudoRandomTensor([3, 5, 37], seed: 45)
        let scaled = Tensor(shape: wide.shape, storage: wide.storage.map { $0 * 12 })
        for function in [ElementwiseFunction.silu, .sigmoid, .tanh, .hardSwish, .clip(lower: 0, upper: 6)] {
            check("applyElementwise \(function.operatorName)", applyElementwise(function, scaled).storage,
                  applyElementwiseNaive(function, scaled).storage)
        }
        print("portable kernels: \(checks) checks, \(failures) failures")
        if failures > 0 { exit(1) }
    }
}
