// Element-wise kernels, batch-norm folding and bilinear resizing: fast against naive (bit for bit:
// both do the same operations in the same order) and against values computed by hand.
import LiftCAM
import XCTest

final class KernelPointwiseTests: PlatformTestCase {
    /// Random shapes with odd sizes; some long enough to be split over the cores.
    private func randomShape(_ random: inout KernelTestRandom) -> [Int] {
        [random.int(1 ... 3), random.pick([1, 3, 16, 17]), random.pick([1, 7, 33, 100]), random.pick([1, 5, 16, 31, 224])]
    }

    func testReLUAndAddByHand() {
        let x = Tensor(shape: [1, 1, 1, 5], storage: [-1, 0, 2, .nan, -0.25])
        for y in [relu(x), reluNaive(x)] {
            XCTAssertEqual(Array(y.storage[0 ..< 3]) + [y.storage[4]], [0, 0, 2, 0])
            XCTAssertTrue(y.storage[3].isNaN, "PyTorch's relu keeps NaN")
        }
        let a = Tensor(shape: [2, 1], storage: [1, -2]), b = Tensor(shape: [2, 1], storage: [0.5, 2])
        XCTAssertEqual(add(a, b).storage, [1.5, 0])
        XCTAssertEqual(addNaive(a, b).storage, [1.5, 0])
    }

    /// 24 random shapes: relu, add and channelAffine fast and naive bit for bit.
    func testPointwiseMatchesNaiveExactly() {
        var random = KernelTestRandom(seed: 0x9017)
        for trial in 0 ..< 24 {
            let shape = trial % 6 == 5 ? [random.int(1 ... 3), random.pick([1, 10, 1000])] : randomShape(&random)
            let x = random.tensor(shape), y = random.tensor(shape)
            let what = "trial \(trial): \(shape)"
            assertBitwiseEqual(relu(x).storage, reluNaive(x).storage, "\(what) relu")
            assertBitwiseEqual(add(x, y).storage, addNaive(x, y).storage, "\(what) add")
            let scale = random.floats(shape[1]), shift = random.floats(shape[1])
            assertBitwiseEqual(channelAffine(x, scale: scale, shift: shift).storage,
                               channelAffineNaive(x, scale: scale, shift: shift).storage, "\(what) channelAffine")
        }
    }

    /// BatchNorm2d in eval mode, (x − mean) / √(var + ε) · weight + bias, against its affine form;
    /// by hand: weight 2, var 3, ε 1 gives scale 2 / √4 = 1; bias 1, mean 3 gives shift 1 − 3 = −2.
    func testBatchNormAffineMatchesPyTorchFormula() {
        let one = { (value: Float) in Tensor(shape: [1], storage: [value]) }
        let (scale, shift) = batchNormAffine(weight: one(2), bias: one(1), runningMean: one(3), runningVariance: one(3), epsilon: 1)
        XCTAssertEqual(scale, [1])
        XCTAssertEqual(shift, [-2])

        var random = KernelTestRandom(seed: 0xB4)
        let channels = 5
        let weight = random.tensor([channels]), bias = random.tensor([channels]), mean = random.tensor([channels])
        let variance = Tensor(shape: [channels], storage: random.floats(channels).map { $0 * $0 + 0.1 })
        let x = random.tensor([2, channels, 3, 4])
        let affine = batchNormAffine(weight: weight, bias: bias, runningMean: mean, runningVariance: variance, epsilon: 1e-5)
        let y = channelAffine(x, scale: affine.scale, shift: affine.shift)
        let expected = x.storage.indices.map { i -> Float in
            let c = (i / 12) % channels
            return (x.storage[i] - mean.storage[c]) / (variance.storage[c] + 1e-5).squareRoot() * weight.storage[c] + bias.storage[c]
        }
        assertClose(y.storage, expected, relativeTolerance: 1e-5, "batch norm")
    }

    /// A convolution with the affine map folded in equals the affine map applied after it, with and
    /// without a bias; tolerance 1e-5 · (1 + max |reference|).
    func testFoldedAffineEqualsAffineAfterConvolution() {
        var random = KernelTestRandom(seed: 0xF01D)
        let shape = Conv2dShape(inChannels: 3, outChannels: 6, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1)
        let x = random.tensor([2, 3, 9, 8]), weight = random.tensor([6, 3, 3, 3])
        let scale = random.floats(6), shift = random.floats(6)
        for bias in [random.tensor([6]), nil] {
            let folded = foldChannelAffine(intoWeight: weight, bias: bias, scale: scale, shift: shift)
            let after = channelAffine(conv2dNaive(x, weight: weight, bias: bias, shape: shape), scale: scale, shift: shift)
            assertClose(conv2dNaive(x, weight: folded.weight, bias: folded.bias, shape: shape).storage, after.storage,
                        relativeTolerance: 1e-5, "bias \(bias != nil)")
        }
    }

    /// F.interpolate(bilinear, align_corners=False) 2 → 4 by hand. Taps: out 0 → src −0.25 clamped to 0;
    /// out 1 → 0.25; out 2 → 0.75; out 3 → 1.25, whose neighbour index clamps at 1 (so just x[1]).
    /// Along one axis [a, b] → [a, 0.75a + 0.25b, 0.25a + 0.75b, b]; x[r, c] = 1 + c + 2r maps to
    /// 1 + t(j) + 2·t(i) with t = [0, 0.25, 0.75, 1].
    func testBilinearUpsample2To4ByHand() {
        let x = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 4])
        let t: [Float] = [0, 0.25, 0.75, 1]
        let expected = (0 ..< 16).map { 1 + t[$0 % 4] + 2 * t[$0 / 4] }
        assertClose(bilinearResize(x, height: 4, width: 4).storage, expected, relativeTolerance: 1e-7, "fast")
        assertClose(bilinearResizeNaive(x, height: 4, width: 4).storage, expected, relativeTolerance: 1e-7, "naive")
    }

    /// 4 → 3 by hand: scale 4/3, src = (j + 0.5)·4/3 − 0.5 = 1/6, 3/2, 17/6. On [1, 5, 2, 8]:
    /// (5/6)·1 + (1/6)·5 = 5/3;  ½·5 + ½·2 = 3.5;  (1/6)·2 + (5/6)·8 = 7. (align_corners=True would
    /// give 1, 3.5, 8.) The same along the height, and 1 → 3 repeats the single value.
    func testBilinearDownsample4To3ByHand() {
        let expected: [Float] = [5.0 / 3, 3.5, 7]
        let row = Tensor(shape: [1, 1, 1, 4], storage: [1, 5, 2, 8])
        let column = Tensor(shape: [1, 1, 4, 1], storage: [1, 5, 2, 8])
        for resize in [bilinearResize, bilinearResizeNaive] {
            assertClose(resize(row, 1, 3).storage, expected, relativeTolerance: 1e-6, "width")
            assertClose(resize(column, 3, 1).storage, expected, relativeTolerance: 1e-6, "height")
            XCTAssertEqual(resize(Tensor(shape: [1, 1], storage: [4]), 3, 1).storage, [4, 4, 4])
        }
    }

    /// 24 random resizes up and down, ranks 2–4 (any leading dimensions), fast and naive bit for bit.
    func testBilinearMatchesNaiveExactly() {
        var random = KernelTestRandom(seed: 0xB11)
        for trial in 0 ..< 24 {
            let leading = [[], [random.pick([1, 3])], [random.int(1 ... 2), random.pick([1, 4, 17])]][trial % 3]
            let shape = leading + [random.pick([1, 2, 7, 14, 33]), random.pick([1, 3, 7, 16, 50])]
            let (height, width) = (random.pick([1, 3, 7, 17, 224]), random.pick([1, 4, 7, 16, 33, 224]))
            let x = random.tensor(shape)
            let fast = bilinearResize(x, height: height, width: width)
            XCTAssertEqual(fast.shape, leading + [height, width])
            assertBitwiseEqual(fast.storage, bilinearResizeNaive(x, height: height, width: width).storage,
                               "trial \(trial): \(shape) → \(height)×\(width)")
        }
    }

    /// The SIMD nonlinearities against f element by element (e^x in Double): within 1e-6·(1 + |y|) on
    /// inputs over ±60 (tails, kinks and the tail of the tensor that fills part of a SIMD row), and the
    /// exact values where the definitions give them.
    func testElementwiseFunctionsMatchNaive() {
        var random = KernelTestRandom(seed: 77)
        let functions: [ElementwiseFunction] = [.clip(lower: 0, upper: 6), .clip(lower: -0.5, upper: 1), .sigmoid,
                                                .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .silu, .tanh, .leakyReLU(alpha: 0.1)]
        for _ in 0..<24 {
            let shape = randomShape(&random)
            let range = random.pick([Float(1), 4, 12, 60])
            var x = Tensor(shape: shape)
            for i in 0..<x.count { x.storage[i] = range * (2 * Float(random.int(0 ... 1 << 20)) / Float(1 << 20) - 1) }
            for function in functions {
                let fast = applyElementwise(function, x), naive = applyElementwiseNaive(function, x)
                let error = zip(fast.storage, naive.storage).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
                XCTAssertLessThan(error, 1e-6, "\(function) on \(shape), inputs within ±\(range)")
            }
        }
        let points = Tensor(shape: [1, 6], storage: [-100, -3, 0, 3, 6, 100])
        XCTAssertEqual(applyElementwise(.hardSwish, points).storage, [0, 0, 0, 3, 6, 100])
        XCTAssertEqual(applyElementwise(.clip(lower: 0, upper: 6), points).storage, [0, 0, 0, 3, 6, 6])
        XCTAssertEqual(applyElementwise(.sigmoid, points).storage[2], 0.5)
        XCTAssertEqual(applyElementwise(.sigmoid, points).storage[5], 1)
        XCTAssertLessThan(applyElementwise(.sigmoid, points).storage[0], 1e-37)
        XCTAssertTrue(applyElementwise(.silu, Tensor(shape: [1], storage: [.nan])).storage[0].isNaN, "NaN stays NaN")
    }
}
