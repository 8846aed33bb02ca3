// Winograd F(4×4, 3×3) and F(2×2, 3×3) against the naive convolution loops, and the layer path
// networks use against the direct (im2col + GEMM) convolution.
import Dispatch
import Foundation
import LiftCAM
import XCTest

final class WinogradConvolutionTests: PlatformTestCase {
    /// Tolerance of every comparison: max |Δ| ≤ 1e-4 · (1 + max |reference|). The transforms scale
    /// values by up to 8 (Aᵀ) and 5 (Bᵀ) before the sums, so the error is larger than im2col's (whose
    /// tests use 1e-5); 1e-4 is the bound on the logits.
    let tolerance: Float = 1e-4

    private func shape(_ inChannels: Int, _ outChannels: Int, padding: (Int, Int)) -> Conv2dShape {
        Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: 3, kernelWidth: 3,
                    paddingHeight: padding.0, paddingWidth: padding.1)
    }

    /// 40 seeded layers for each filtering: the sizes the issue names (1×1, 3×5, 7×7, 13×11, 30×30)
    /// and other sizes that are not multiples of 4 or 2 (partial tiles at the bottom and right),
    /// padding 0, 1, 2 and unequal paddings, batch 1–3, channel counts that are not multiples of 6 or
    /// 16; with and without bias and the fused ReLU (against max(0, naive)).
    func testMatchesNaiveOnRandomShapes() {
        assertMatchesNaiveOnRandomShapes(.f4, seed: 0x5151)
        assertMatchesNaiveOnRandomShapes(.f2, seed: 0x5152)
    }

    private func assertMatchesNaiveOnRandomShapes(_ filtering: WinogradTile, seed: UInt64) {
        var random = KernelTestRandom(seed: seed)
        let sizes = [(1, 1), (3, 5), (7, 7), (13, 11), (30, 30), (4, 4), (5, 9), (17, 6), (8, 12), (2, 3)]
        for trial in 0 ..< 40 {
            var (height, width) = trial < sizes.count ? sizes[trial] : random.pick(sizes + [(9, 21), (16, 15)])
            let padding = trial % 3 == 2 ? (random.int(0 ... 2), random.int(0 ... 2)) : (trial % 2, trial % 2)
            // Padding 0 needs at least 3 rows and columns for one output.
            height = max(height, 3 - 2 * padding.0)
            width = max(width, 3 - 2 * padding.1)
            let geometry = shape(random.pick([1, 3, 5, 16, 17, 40]), random.pick([1, 5, 7, 16, 19, 33]), padding: padding)
            let batch = random.int(1 ... 3)
            let x = random.tensor([batch, geometry.inChannels, height, width])
            let weight = random.tensor([geometry.outChannels, geometry.inChannels, 3, 3])
            let bias = random.bool() ? random.tensor([geometry.outChannels]) : nil
            let applyReLU = trial % 4 == 3
            let what = "F(\(filtering.outputSide)) trial \(trial): \(geometry) on [\(batch), \(height), \(width)], ReLU \(applyReLU)"
            var expected = conv2dNaive(x, weight: weight, bias: bias, shape: geometry)
            if applyReLU { expected = relu(expected) }
            let actual = conv2dWinograd(x, weight: weight, bias: bias, shape: geometry, applyReLU: applyReLU, filtering: filtering)
            XCTAssertEqual(actual.shape, expected.shape, what)
            assertClose(actual.storage, expected.storage, relativeTolerance: tolerance, what)
        }
    }

    /// Weights too large to keep transformed ((m+2)² · O · C over `winogradCachedWeightLimit`) are
    /// transformed on the fly, 12 rows and one depth slab at a time: shapes with several slabs
    /// (C = 1030, 1100), an odd number of 6-row panels (O = 245: 41 panels) and O not a multiple of 6;
    /// for F(2×2), whose transform is 16/9 of the weight, O = 563 and 600 (95 and 100 panels).
    func testOnTheFlyTransformMatchesNaive() {
        var random = KernelTestRandom(seed: 0xF1)
        for (inChannels, outChannels, height, width, padding, batch, filtering) in
                [(600, 460, 7, 9, (1, 1), 2, WinogradTile.f4), (1030, 260, 6, 6, (1, 0), 1, .f4), (1100, 245, 5, 4, (0, 1), 1, .f4),
                 (517, 517, 3, 3, (1, 1), 1, .f4), (1100, 563, 7, 7, (1, 1), 1, .f2), (1030, 600, 5, 6, (0, 1), 2, .f2)] {
            let geometry = shape(inChannels, outChannels, padding: padding)
            XCTAssertFalse(winogradCachesWeights(geometry, filtering: filtering), "\(geometry) would be cached")
            let x = random.tensor([batch, inChannels, height, width])
            let weight = random.tensor([outChannels, inChannels, 3, 3]), bias = random.tensor([outChannels])
            let what = "F(\(filtering.outputSide)): \(geometry) on [\(batch), \(height), \(width)]"
            let expected = conv2dNaive(x, weight: weight, bias: bias, shape: geometry)
            assertClose(conv2dWinograd(x, weight: weight, bias: bias, shape: geometry, filtering: filtering).storage,
                        expected.storage, relativeTolerance: tolerance, what)
            // The same weights transformed beforehand (the packed path) agree too.
            let transformed = WinogradWeights(weight: weight, filtering: filtering)
            assertClose(conv2dWinograd(x, weights: transformed, bias: bias, shape: geometry).storage,
                        expected.storage, relativeTolerance: tolerance, what + ", packed")
        }
    }

    /// The identity kernel (1 at the centre) with padding 1 gives back the input plus the bias, and
    /// the kernel with 1 at the top-left corner shifts the plane down and right by one (zero fill):
    /// values known without any reference code.
    func testShiftKernelsGiveShiftedInput() {
        var random = KernelTestRandom(seed: 0x1D)
        let geometry = shape(1, 2, padding: (1, 1))
        let x = random.tensor([1, 1, 9, 10])
        var weight = Tensor(shape: [2, 1, 3, 3], repeating: 0)
        weight.storage[4] = 1        // channel 0: centre
        weight.storage[9] = 1        // channel 1: top-left corner, y[i][j] = x[i − 1][j − 1]
        let bias = Tensor(shape: [2], storage: [0.5, 0])
        var expected = x.storage.map { $0 + 0.5 }
        for i in 0 ..< 9 {
            for j in 0 ..< 10 { expected.append(i > 0 && j > 0 ? x.storage[(i - 1) * 10 + j - 1] : 0) }
        }
        for filtering in [WinogradTile.f4, .f2] {
            let y = conv2dWinograd(x, weight: weight, bias: bias, shape: geometry, filtering: filtering)
            assertClose(y.storage, expected, relativeTolerance: 1e-6, "shift kernels, F(\(filtering.outputSide))")
        }
    }

    /// `Conv2dLayer.forward`, which networks call, takes the Winograd path on a 3×3 stride-1 layer
    /// (checked with `winogradPays`; F(2×2) on the single 7×7 items) and agrees with the direct
    /// convolution, on a first call and on a later call that reuses the cached transform, and from 8
    /// threads calling a fresh layer at once.
    func testLayerPathMatchesDirectConvolution() {
        var random = KernelTestRandom(seed: 0x1A7E)
        for (inChannels, outChannels, size, batch) in [(16, 32, 20, 1), (19, 13, 15, 2), (64, 64, 14, 1), (8, 40, 7, 3),
                                                        (64, 70, 7, 1), (16, 9, 8, 1)] {
            let geometry = shape(inChannels, outChannels, padding: (1, 1))
            XCTAssertTrue(winogradPays(shape: geometry, batch: batch, height: size, width: size), "\(geometry) at \(size)")
            let weight = random.tensor([outChannels, inChannels, 3, 3]), bias = random.tensor([outChannels])
            let x = random.tensor([batch, inChannels, size, size])
            let layer = Conv2dLayer(name: "conv", weight: weight, bias: bias, geometry: geometry)
            let direct = conv2d(x, weight: weight, bias: bias, shape: geometry)
            let what = "\(geometry) on [\(batch), \(size), \(size)]"
            assertClose(layer.forward(x).storage, direct.storage, relativeTolerance: tolerance, what + ", first call")
            assertClose(layer.forward(x).storage, direct.storage, relativeTolerance: tolerance, what + ", cached")

            let fresh = Conv2dLayer(name: "conv", weight: weight, bias: bias, geometry: geometry)
            let results = ResultSlots(count: 8)
            DispatchQueue.concurrentPerform(iterations: 8) { index in results.set(index, fresh.forward(x).storage) }
            for index in 0 ..< 8 {
                assertClose(results.get(index), direct.storage, relativeTolerance: tolerance, what + ", thread \(index)")
            }
        }
    }

    /// Strided, 1×1 and 5×5 layers do not take the Winograd path. One 7×7 item takes F(2×2) (16
    /// tiles, one panel; F(4×4)'s 4 tiles would fill a quarter of it), a batch of 8 such items and a
    /// 14×14 plane F(4×4); a 5×5 plane (9 tiles of 2×2 in a panel of 16) neither, nor a 7×7 item with
    /// 8 input channels.
    func testWinogradIsChosenOnlyWhereItApplies() {
        let strided = Conv2dShape(inChannels: 64, outChannels: 64, kernelHeight: 3, kernelWidth: 3,
                                  strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
        let pointwise = Conv2dShape(inChannels: 64, outChannels: 64, kernelHeight: 1, kernelWidth: 1)
        let wide = Conv2dShape(inChannels: 64, outChannels: 64, kernelHeight: 5, kernelWidth: 5, paddingHeight: 2, paddingWidth: 2)
        XCTAssertFalse(winogradApplies(to: strided))
        XCTAssertFalse(winogradApplies(to: pointwise))
        XCTAssertFalse(winogradApplies(to: wide))
        let resnetLast = shape(512, 512, padding: (1, 1))
        XCTAssertEqual(winogradFiltering(shape: resnetLast, batch: 1, height: 7, width: 7), .f2)
        XCTAssertEqual(winogradFiltering(shape: resnetLast, batch: 8, height: 7, width: 7), .f4)
        XCTAssertEqual(winogradFiltering(shape: resnetLast, batch: 1, height: 14, width: 14), .f4)
        XCTAssertNil(winogradFiltering(shape: resnetLast, batch: 1, height: 5, width: 5))
        // F(2×2) needs 16 input channels (SqueezeNet's 8 → 32 expansions on 7×7 stay direct).
        XCTAssertNil(winogradFiltering(shape: shape(8, 32, padding: (1, 1)), batch: 1, height: 7, width: 7))
    }
}

/// Networks' forward passes (Winograd convolutions, ReLUs applied inside the convolutions, add+ReLU
/// at the end of residual blocks) against the modules evaluated one by one with the direct
/// convolution `conv2d` and separate ReLU and addition kernels.
final class WinogradNetworkTests: PlatformTestCase {
    /// The reference: `conv2d` (im2col + GEMM) for every convolution, everything else layer by layer.
    /// Counts the convolutions on which `Conv2dLayer` would take the Winograd path.
    private func directForward(_ layer: any Layer, _ x: Tensor, winogradLayers: inout Int) -> Tensor {
        switch layer {
        case let conv as Conv2dLayer:
            if winogradPays(shape: conv.geometry, batch: x.shape[0], height: x.shape[2], width: x.shape[3]) {
                winogradLayers += 1
            }
            return conv2d(x, weight: conv.weight, bias: conv.bias, shape: conv.geometry)
        case let sequence as Sequential:
            return sequence.layers.reduce(x) { directForward($1, $0, winogradLayers: &winogradLayers) }
        case let block as ResidualBlock:
            let shortcut = block.downsample.map { directForward($0, x, winogradLayers: &winogradLayers) } ?? x
            return relu(add(directForward(block.branch, x, winogradLayers: &winogradLayers), shortcut))
        default:
            return layer.forward(x)
        }
    }

    private func checkNetwork(_ architecture: Architecture, batch: Int, seed: UInt64, _ what: String,
                              passes: Int = 1) throws {
        let network = try Network(architecture: architecture, weights: RandomWeights(seed: seed))
        var random = KernelTestRandom(seed: seed)
        let x = random.tensor([batch] + architecture.inputShape)
        var winogradLayers = 0
        let expected = network.modules.reduce(x) { directForward($1, $0, winogradLayers: &winogradLayers) }
        XCTAssertGreaterThan(winogradLayers, 0, "\(what): no convolution takes the Winograd path")
        for pass in 0 ..< passes {
            let actual = network.forward(x)
            XCTAssertEqual(actual.shape, expected.shape, what)
            assertClose(actual.storage, expected.storage, relativeTolerance: 1e-4, "\(what), pass \(pass)")
        }
    }

    /// A VGG with batch-norm (folded into the convolutions), 8–24 channels on a 30×26 input, batch 2.
    /// Tolerance 1e-4 · (1 + max |logit|).
    func testVGGForwardMatchesDirectConvolution() throws {
        let architecture = Architecture.vgg(VGGConfiguration(
            config: [.convolution(16), .convolution(24), .maxPool, .convolution(20), .convolution(8)],
            batchNorm: true, pool: (2, 2), classifier: [12], classes: 4, inputShape: [3, 30, 26]))
        try checkNetwork(architecture, batch: 2, seed: 7, "vgg")
    }

    /// A ResNet of basic blocks, width 8, on a 40×36 input, batch 3. Same tolerance.
    func testResNetForwardMatchesDirectConvolution() throws {
        let architecture = Architecture.resnet(ResNetConfiguration(
            block: .basic, layers: [1, 1, 1, 1], width: 8, classes: 6, inputShape: [3, 40, 36]))
        try checkNetwork(architecture, batch: 3, seed: 8, "resnet")
    }

    /// A bottleneck ResNet, width 16, on a 64×64 input, batch 2: its 1×1 convolutions of 128 → 512
    /// (64 Ki weights) on planes up to 28×28 use the layer's pre-packed weight, its 3×3 ones on 16×16
    /// Winograd. Same tolerance; the second forward pass reuses what the first one made.
    func testBottleneckResNetForwardMatchesDirectConvolution() throws {
        let architecture = Architecture.resnet(ResNetConfiguration(
            block: .bottleneck, layers: [1, 1, 1, 1], width: 16, classes: 6, inputShape: [3, 64, 64]))
        try checkNetwork(architecture, batch: 2, seed: 9, "bottleneck resnet", passes: 2)
    }

    /// addReLU = relu(a + b), bit for bit, on a length with a SIMD tail and on one split over the
    /// cores, with NaN kept as PyTorch does; `addReLU(into:)` the same over a copy of a, leaving a as
    /// it was (the copy's storage is written, not the one it shared).
    func testAddReLUMatchesSeparateKernels() {
        var random = KernelTestRandom(seed: 0xADD)
        for shape in [[3, 7, 11], [2, 64, 56, 56]] {
            var a = random.tensor(shape)
            let b = random.tensor(shape)
            a.storage[5] = .nan
            let original = a.storage, expected = reluNaive(addNaive(a, b))
            assertBitwiseEqual(addReLU(a, b).storage, expected.storage, "addReLU \(shape)")
            var sum = a
            addReLU(into: &sum, b)
            assertBitwiseEqual(sum.storage, expected.storage, "addReLU(into:) \(shape)")
            assertBitwiseEqual(a.storage, original, "a after addReLU(into:) on its copy \(shape)")
        }
    }
}

/// Result arrays written by concurrent workers, one slot each, read after they finish.
private final class ResultSlots: @unchecked Sendable {
    private var slots: [[Float]]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ index: Int, _ value: [Float]) { lock.lock(); slots[index] = value; lock.unlock() }
    func get(_ index: Int) -> [Float] { lock.lock(); defer { lock.unlock() }; return slots[index] }
}
