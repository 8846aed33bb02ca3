// Max, average and adaptive average pooling: fast against naive (exactly: both sum in the same
// order), hand-computed cases that pin PyTorch's rules, and each backward against its forward.
import LiftCAM
import XCTest

final class KernelPoolingTests: PlatformTestCase {
    /// A random pool within PyTorch's limits (padding ≤ kernel / 2), on odd sizes.
    private func randomPool(_ random: inout KernelTestRandom) -> (shape: Pool2dShape, input: [Int]) {
        let kernelHeight = random.int(1 ... 5), kernelWidth = random.pick([1, 2, 3, kernelHeight])
        let shape = Pool2dShape(kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                strideHeight: random.int(1 ... 3), strideWidth: random.int(1 ... 3),
                                paddingHeight: random.int(0 ... kernelHeight / 2), paddingWidth: random.int(0 ... kernelWidth / 2),
                                ceilMode: random.bool())
        let height = max(random.pick([1, 2, 3, 7, 17, 33, 100]), kernelHeight)
        let width = max(random.pick([1, 2, 3, 7, 17, 33, 101]), kernelWidth)
        return (shape, [random.int(1 ... 3), random.pick([1, 3, 8]), height, width])
    }

    /// Values from {-2, -1, 0, 1, 2}: ties in almost every window, so the first-maximum rule matters.
    private func tiedTensor(_ shape: [Int], _ random: inout KernelTestRandom) -> Tensor {
        Tensor(shape: shape, storage: (0 ..< shape.product).map { _ in Float(random.int(-2 ... 2)) })
    }

    /// PyTorch's output sizes, including ceil_mode and its rule that the last window must start
    /// inside the input or the left padding (k 2, s 2, p 1 on 3: ceil would give 3, the rule gives 2).
    func testOutputSizeFollowsPyTorch() {
        func size(_ input: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ ceil: Bool) -> Int {
            Pool2dShape(kernelHeight: kernel, kernelWidth: 1, strideHeight: stride, strideWidth: 1,
                        paddingHeight: padding, ceilMode: ceil).outputSize(height: input, width: 1).height
        }
        XCTAssertEqual(size(5, 2, 2, 0, false), 2)
        XCTAssertEqual(size(5, 2, 2, 0, true), 3)
        XCTAssertEqual(size(3, 2, 2, 1, false), 2)
        XCTAssertEqual(size(3, 2, 2, 1, true), 2)
        XCTAssertEqual(size(6, 3, 2, 0, true), 3)
        XCTAssertEqual(size(112, 3, 2, 1, false), 56)   // ResNet's stem max-pool
        XCTAssertEqual(size(224, 2, 2, 0, false), 112)  // VGG's max-pools
    }

    /// Max pool k 3, s 2, p 1 on a 4×4 plane with ties, computed by hand, plus an all-negative plane
    /// (padding is −∞, not 0) and the backward scatter-add where two windows share a maximum.
    func testMaxPoolTiesAndPaddingByHand() {
        let shape = Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
        let plane: [Float] = [5, 1, 5, 2,
                              0, 5, 3, 5,
                              4, 4, 1, 0,
                              2, 4, 4, -7]
        let x = Tensor(shape: [1, 2, 4, 4], storage: plane + [Float](repeating: -2, count: 16))
        // Windows cover rows/columns {0,1} and {1,2,3}. First 5 in row-major order: (0,0)=0, (0,2)=2,
        // (1,1)=5, (1,1)=5. All −2: the first valid element of each window, 0, 1, 4, 5.
        for (output, argmax) in [maxPool2d(x, shape: shape), maxPool2dNaive(x, shape: shape)] {
            XCTAssertEqual(output, Tensor(shape: [1, 2, 2, 2], storage: [5, 5, 5, 5, -2, -2, -2, -2]))
            XCTAssertEqual(argmax, [0, 2, 5, 5, 0, 1, 4, 5])
        }
        XCTAssertEqual(maxPool2dValues(x, shape: shape), Tensor(shape: [1, 2, 2, 2], storage: [5, 5, 5, 5, -2, -2, -2, -2]))
        let (_, argmax) = maxPool2d(x, shape: shape)
        let dy = Tensor(shape: [1, 2, 2, 2], storage: [1, 2, 3, 4, 1, 1, 1, 1])
        var expected = [Float](repeating: 0, count: 32)
        (expected[0], expected[2], expected[5]) = (1, 2, 7)
        (expected[16], expected[17], expected[20], expected[21]) = (1, 1, 1, 1)
        XCTAssertEqual(maxPool2dBackward(dy, argmax: argmax, inputShape: [1, 2, 4, 4]).storage, expected)
    }

    /// NaN propagates as in PyTorch (`val > max || isnan(val)`): the output is NaN and its index the
    /// last NaN of the window; a number after a NaN does not replace it.
    func testMaxPoolPropagatesNaN() {
        let x = Tensor(shape: [1, 1, 1, 6], storage: [1, .nan, 7, .nan, .nan, 3])
        let shape = Pool2dShape(kernelHeight: 1, kernelWidth: 3, strideHeight: 1, strideWidth: 3)
        for (output, argmax) in [maxPool2d(x, shape: shape), maxPool2dNaive(x, shape: shape)] {
            XCTAssertTrue(output.storage[0].isNaN && output.storage[1].isNaN)
            XCTAssertEqual(argmax, [1, 4])
        }
        XCTAssertTrue(maxPool2dValues(x, shape: shape).storage.allSatisfy(\.isNaN))
    }

    /// ceil_mode: the last window hangs over the edge. Width 5, k 2, s 2: windows {0,1}, {2,3}, {4};
    /// max of [1, 9, 3, 4, 5] is [9, 4, 5]; the average divides the last window by 1 (PyTorch's
    /// divisor stops at input + padding), giving [5, 3.5, 5].
    func testCeilModeByHand() {
        let x = Tensor(shape: [1, 1, 1, 5], storage: [1, 9, 3, 4, 5])
        let shape = Pool2dShape(kernelHeight: 1, kernelWidth: 2, strideHeight: 1, strideWidth: 2, ceilMode: true)
        XCTAssertEqual(maxPool2d(x, shape: shape).output.storage, [9, 4, 5])
        XCTAssertEqual(maxPool2d(x, shape: shape).argmax, [1, 3, 4])
        XCTAssertEqual(avgPool2d(x, shape: shape).storage, [5, 3.5, 5])
        XCTAssertEqual(avgPool2dNaive(x, shape: shape).storage, [5, 3.5, 5])
        // With padding 1 and k 3, s 2 (count_include_pad): windows [-1, 2), [1, 4), [3, 6) clipped at
        // 5 + 1; divisors 3, 3, 3: [(1 + 9) / 3, (9 + 3 + 4) / 3, (4 + 5) / 3].
        let padded = Pool2dShape(kernelHeight: 1, kernelWidth: 3, strideHeight: 1, strideWidth: 2, paddingWidth: 1, ceilMode: true)
        assertClose(avgPool2d(x, shape: padded).storage, [10 / 3, 16 / 3, 3], relativeTolerance: 1e-7, "padded ceil")
    }

    /// AdaptiveAvgPool2d 5 → 3 with overlapping bins {0,1}, {1,2,3}, {3,4}. On x[h, w] = 10h + w the
    /// mean is 10 · rowMean + columnMean, row means 0.5, 2, 3.5. The backward of ones over one row of 5
    /// gives each column the sum of 1/|bin| over the bins holding it: [1/2, 1/2 + 1/3, 1/3, 1/3 + 1/2, 1/2].
    func testAdaptivePoolOverlappingBinsByHand() {
        let x = Tensor(shape: [1, 1, 5, 5], storage: (0 ..< 25).map { Float(10 * ($0 / 5) + $0 % 5) })
        let expected: [Float] = [5.5, 7, 8.5, 20.5, 22, 23.5, 35.5, 37, 38.5]
        assertClose(adaptiveAvgPool2d(x, outputHeight: 3, outputWidth: 3).storage, expected, relativeTolerance: 1e-7, "fast")
        assertClose(adaptiveAvgPool2dNaive(x, outputHeight: 3, outputWidth: 3).storage, expected, relativeTolerance: 1e-7, "naive")
        let ones = Tensor(shape: [1, 1, 1, 3], repeating: 1)
        assertClose(adaptiveAvgPool2dBackward(ones, inputShape: [1, 1, 1, 5]).storage,
                    [0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5, 0.5], relativeTolerance: 1e-7, "backward")
    }

    /// 40 random pools: max (values and argmax) and average, fast and naive bit for bit; every third
    /// input has ties plus scattered NaN and −∞ (in the SIMD interior and at the edges alike).
    func testPoolsMatchNaiveExactly() {
        var random = KernelTestRandom(seed: 0x9001)
        for trial in 0 ..< 40 {
            let (shape, inputShape) = randomPool(&random)
            var x = trial % 2 == 0 ? tiedTensor(inputShape, &random) : random.tensor(inputShape)
            if trial % 3 == 0 {
                for _ in 0 ..< max(1, x.count / 50) {
                    x.storage[random.int(0 ... x.count - 1)] = random.bool() ? .nan : -.infinity
                }
            }
            let what = "trial \(trial): \(shape) on \(inputShape)"
            let fast = maxPool2d(x, shape: shape), naive = maxPool2dNaive(x, shape: shape)
            assertBitwiseEqual(fast.output.storage, naive.output.storage, what)
            XCTAssertEqual(fast.argmax, naive.argmax, what)
            // No input holds −0, so the values-only pool must match bit for bit too.
            assertBitwiseEqual(maxPool2dValues(x, shape: shape).storage, naive.output.storage, "\(what) values only")
            assertBitwiseEqual(avgPool2d(x, shape: shape).storage, avgPool2dNaive(x, shape: shape).storage, "\(what) average")
        }
    }

    /// The forward pass's pool on ResNet's stem shape (3×3, stride 2, padding 1, 112 → 56: three SIMD
    /// chunks and a partial one per row) and on VGG's (2×2, stride 2), with NaN and −∞ scattered in:
    /// `maxPool2dValues` and the layer's forward against the naive twin, bit for bit.
    func testValuesOnlyPoolMatchesNaiveOnNetworkShapes() {
        var random = KernelTestRandom(seed: 0x5733)
        let shapes = [(Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
                       [1, 5, 112, 112]),
                      (Pool2dShape(kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2), [2, 3, 224, 224]),
                      // 56 wide in ceil mode: 28 windows, the last one (54…56) hanging over the edge.
                      (Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, ceilMode: true), [1, 2, 56, 56])]
        for (shape, inputShape) in shapes {
            var x = random.tensor(inputShape)
            for _ in 0 ..< 40 { x.storage[random.int(0 ... x.count - 1)] = random.bool() ? .nan : -.infinity }
            let naive = maxPool2dNaive(x, shape: shape).output
            assertBitwiseEqual(maxPool2dValues(x, shape: shape).storage, naive.storage, "\(shape) on \(inputShape)")
            assertBitwiseEqual(MaxPool2dLayer(name: "pool", geometry: shape).forward(x).storage, naive.storage, "layer, \(shape)")
        }
    }

    /// 24 random adaptive pools, to smaller and larger sizes (1×1 is ResNet's global pool, 7×7 VGG's),
    /// fast and naive bit for bit.
    func testAdaptivePoolMatchesNaiveExactly() {
        var random = KernelTestRandom(seed: 0xADA)
        for trial in 0 ..< 24 {
            let inputShape = [random.int(1 ... 3), random.pick([1, 4, 9]), random.pick([1, 3, 5, 7, 14, 33]), random.pick([1, 2, 7, 13, 100])]
            let (outputHeight, outputWidth) = (random.pick([1, 2, 3, 5, 7]), random.pick([1, 3, 7, 8]))
            let x = random.tensor(inputShape)
            assertBitwiseEqual(adaptiveAvgPool2d(x, outputHeight: outputHeight, outputWidth: outputWidth).storage,
                               adaptiveAvgPool2dNaive(x, outputHeight: outputHeight, outputWidth: outputWidth).storage,
                               "trial \(trial): \(inputShape) → \(outputHeight)×\(outputWidth)")
        }
    }

    /// Each backward is the transpose of its forward: ⟨pool(x), g⟩ = ⟨x, poolᵀ(g)⟩ for average and
    /// adaptive pools (linear maps), and for max pool with its argmax fixed (max pool(x)[i] = x[argmax i]).
    /// Tolerance 1e-5 · (1 + Σ |g|·window). The naive backward twins (literal mode's) add the same
    /// terms in the same order: bit for bit the fast ones.
    func testBackwardsAreTransposesOfForwards() {
        var random = KernelTestRandom(seed: 0xBAC)
        for trial in 0 ..< 24 {
            let (shape, inputShape) = randomPool(&random)
            let x = random.tensor(inputShape)
            let what = "trial \(trial): \(shape) on \(inputShape)"
            let average = avgPool2dNaive(x, shape: shape)
            let g = random.tensor(average.shape)
            let tolerance = 1e-5 * (1 + Double(g.count * shape.kernelHeight * shape.kernelWidth))
            XCTAssertEqual(innerProduct(average.storage, g.storage),
                           innerProduct(x.storage, avgPool2dBackward(g, shape: shape, inputShape: inputShape).storage),
                           accuracy: tolerance, "\(what) average")
            let (maximum, argmax) = maxPool2dNaive(x, shape: shape)
            XCTAssertEqual(innerProduct(maximum.storage, g.storage),
                           innerProduct(x.storage, maxPool2dBackward(g, argmax: argmax, inputShape: inputShape).storage),
                           accuracy: tolerance, "\(what) max")
            let (outputHeight, outputWidth) = (random.pick([1, 2, 3, 7]), random.pick([1, 3, 5]))
            let adaptive = adaptiveAvgPool2dNaive(x, outputHeight: outputHeight, outputWidth: outputWidth)
            let h = random.tensor(adaptive.shape)
            XCTAssertEqual(innerProduct(adaptive.storage, h.storage),
                           innerProduct(x.storage, adaptiveAvgPool2dBackward(h, inputShape: inputShape).storage),
                           accuracy: 1e-5 * Double(1 + x.count), "\(what) adaptive to \(outputHeight)×\(outputWidth)")
            assertBitwiseEqual(avgPool2dBackwardNaive(g, shape: shape, inputShape: inputShape).storage,
                               avgPool2dBackward(g, shape: shape, inputShape: inputShape).storage, "\(what) average twin")
            assertBitwiseEqual(maxPool2dBackwardNaive(g, argmax: argmax, inputShape: inputShape).storage,
                               maxPool2dBackward(g, argmax: argmax, inputShape: inputShape).storage, "\(what) max twin")
            assertBitwiseEqual(adaptiveAvgPool2dBackwardNaive(h, inputShape: inputShape).storage,
                               adaptiveAvgPool2dBackward(h, inputShape: inputShape).storage, "\(what) adaptive twin")
        }
    }
}
