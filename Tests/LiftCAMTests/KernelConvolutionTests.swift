// conv2d and its input gradient: fast (im2col + GEMM) against the naive loops, the naive loops
// against hand-computed values, and the backward against the forward (it must be its transpose).
import LiftCAM
import XCTest

/// `conv2d` and `conv2dBackwardInput` (on a random dy drawn after the forward) against their naive
/// twins: shapes equal, max |Δ| ≤ 1e-5 · (1 + max |reference|). Returns the naive forward output.
@discardableResult
func assertConvolutionMatchesNaive(_ x: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape,
                                   random: inout KernelTestRandom, _ what: String) -> Tensor {
    let (height, width) = (x.shape[2], x.shape[3])
    let y = conv2dNaive(x, weight: weight, bias: bias, shape: shape)
    let fast = conv2d(x, weight: weight, bias: bias, shape: shape)
    XCTAssertEqual(fast.shape, y.shape, what)
    assertClose(fast.storage, y.storage, relativeTolerance: 1e-5, what)
    let dy = random.tensor(y.shape)
    let dx = conv2dBackwardInputNaive(dy, weight: weight, shape: shape, inputHeight: height, inputWidth: width)
    let fastDx = conv2dBackwardInput(dy, weight: weight, shape: shape, inputHeight: height, inputWidth: width)
    XCTAssertEqual(fastDx.shape, x.shape, what)
    assertClose(fastDx.storage, dx.storage, relativeTolerance: 1e-5, "\(what) backward")
    return y
}

final class KernelConvolutionTests: PlatformTestCase {
    /// A random layer: kernels 1×1, 3×3, 5×5, 7×7, 1×3, 3×1; strides 1–3; paddings 0–3; batch 1–3;
    /// odd sizes; the input grown where needed so the output has at least one element.
    private func randomLayer(_ random: inout KernelTestRandom) -> (shape: Conv2dShape, batch: Int, height: Int, width: Int) {
        let (kernelHeight, kernelWidth) = random.pick([(1, 1), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1)])
        let shape = Conv2dShape(inChannels: random.pick([1, 2, 3, 5, 17]), outChannels: random.pick([1, 2, 7, 16, 33]),
                                kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                strideHeight: random.int(1 ... 3), strideWidth: random.int(1 ... 3),
                                paddingHeight: random.int(0 ... 3), paddingWidth: random.int(0 ... 3))
        let height = max(random.pick([1, 3, 7, 17, 33]), kernelHeight - 2 * shape.paddingHeight)
        let width = max(random.pick([1, 3, 7, 17, 33, 40]), kernelWidth - 2 * shape.paddingWidth)
        return (shape, random.int(1 ... 3), height, width)
    }

    /// A 3×3 input, one 2×2 kernel, padding 1, stride 2, computed by hand:
    /// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[1, 0], [0, -1]], b = 10.
    func testConvolutionMatchesHandValues() {
        let x = Tensor(shape: [1, 1, 3, 3], storage: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let weight = Tensor(shape: [1, 1, 2, 2], storage: [1, 0, 0, -1])
        let bias = Tensor(shape: [1], storage: [10])
        let shape = Conv2dShape(inChannels: 1, outChannels: 1, kernelHeight: 2, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
        // Window at (i, j) starts at input (2i − 1, 2j − 1): y = b + x[2i−1, 2j−1] − x[2i, 2j].
        // (0,0): 10 + 0 − 1 = 9;  (0,1): 10 + 0 − 3 = 7;  (1,0): 10 + 0 − 7 = 3;  (1,1): 10 + 5 − 9 = 6.
        let expected = Tensor(shape: [1, 1, 2, 2], storage: [9, 7, 3, 6])
        XCTAssertEqual(shape.outputSize(height: 3, width: 3).height, 2)
        XCTAssertEqual(conv2dNaive(x, weight: weight, bias: bias, shape: shape), expected)
        XCTAssertEqual(conv2d(x, weight: weight, bias: bias, shape: shape), expected)
        // Transpose: dy = [[1, 2], [3, 4]] sends +dy to x[2i−1, 2j−1] and −dy to x[2i, 2j]:
        // dx[0,0] = −1, dx[0,2] = −2, dx[2,0] = −3, dx[1,1] = +4, dx[2,2] = −4, others 0.
        let dy = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 4])
        let expectedGradient = Tensor(shape: [1, 1, 3, 3], storage: [-1, 0, -2, 0, 4, 0, -3, 0, -4])
        XCTAssertEqual(conv2dBackwardInputNaive(dy, weight: weight, shape: shape, inputHeight: 3, inputWidth: 3), expectedGradient)
        XCTAssertEqual(conv2dBackwardInput(dy, weight: weight, shape: shape, inputHeight: 3, inputWidth: 3), expectedGradient)
    }

    /// PyTorch's output size, floor((H + 2p − k) / s) + 1, on VGG and ResNet layers.
    func testOutputSizeFollowsPyTorch() {
        let stem = Conv2dShape(inChannels: 3, outChannels: 64, kernelHeight: 7, kernelWidth: 7,
                               strideHeight: 2, strideWidth: 2, paddingHeight: 3, paddingWidth: 3)
        XCTAssertTrue(stem.outputSize(height: 224, width: 225) == (112, 113))
        let downsample = Conv2dShape(inChannels: 64, outChannels: 128, kernelHeight: 1, kernelWidth: 1, strideHeight: 2, strideWidth: 2)
        XCTAssertTrue(downsample.outputSize(height: 56, width: 55) == (28, 28))
        let vgg = Conv2dShape(inChannels: 3, outChannels: 64, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1)
        XCTAssertTrue(vgg.outputSize(height: 224, width: 7) == (224, 7))
    }

    /// 30 random layers, forward and backward. Tolerance: max |Δ| ≤ 1e-5 · (1 + max |reference|)
    /// (sums of up to 17·7·7 products of values in [-1, 1], in two orders).
    func testConvolutionMatchesNaiveOnRandomLayers() {
        var random = KernelTestRandom(seed: 0xC0 as UInt64)
        for trial in 0 ..< 30 {
            let (shape, batch, height, width) = randomLayer(&random)
            let x = random.tensor([batch, shape.inChannels, height, width])
            let weight = random.tensor([shape.outChannels, shape.inChannels, shape.kernelHeight, shape.kernelWidth])
            let bias = random.bool() ? random.tensor([shape.outChannels]) : nil
            assertConvolutionMatchesNaive(x, weight: weight, bias: bias, shape: shape, random: &random,
                                          "trial \(trial): \(shape) on [\(batch), \(height), \(width)]")
        }
    }

    /// The backward pass is the transpose of the forward: ⟨conv(x), g⟩ = ⟨x, convᵀ(g)⟩ (no bias),
    /// to 1e-6 of Σ |products| — checks the naive backward independently of the fast one.
    func testBackwardIsTransposeOfForward() {
        var random = KernelTestRandom(seed: 0xAD)
        for trial in 0 ..< 36 {
            // 20 plain layers, then 16 grouped ones, every other one depthwise (randomGroupedLayer).
            let (shape, batch, height, width) = trial < 20 ? randomLayer(&random)
                                                           : randomGroupedLayer(&random, depthwise: trial % 2 == 0)
            let x = random.tensor([batch, shape.inChannels, height, width])
            let weight = random.tensor(shape.weightShape)
            let y = conv2dNaive(x, weight: weight, bias: nil, shape: shape)
            let g = random.tensor(y.shape)
            let dx = conv2dBackwardInputNaive(g, weight: weight, shape: shape, inputHeight: height, inputWidth: width)
            let terms = Double(y.count * shape.inChannelsPerGroup * shape.kernelHeight * shape.kernelWidth)
            XCTAssertEqual(innerProduct(y.storage, g.storage), innerProduct(x.storage, dx.storage),
                           accuracy: 1e-6 * terms, "trial \(trial): \(shape)")
        }
    }

    /// Layers large enough to split the work over all cores and to reach every way a call is cut
    /// into GEMMs: 224×224 unfolds in several bands of rows (64·3·3 unfolded rows × 224 columns exceed
    /// the band budget); a batch with planes of 1024 or more goes item by item, pointwise or not;
    /// a batch with small planes is grouped, 300·3·3 rows × 961 columns allowing 3 items per group,
    /// so 4 items make a full group and a partial one; equal bands with a shorter last one.
    func testConvolutionMatchesNaiveOnLargeLayers() {
        var random = KernelTestRandom(seed: 0xB16)
        let layers: [(Conv2dShape, Int, Int, Int)] = [
            (Conv2dShape(inChannels: 64, outChannels: 3, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1), 1, 224, 224),
            (Conv2dShape(inChannels: 40, outChannels: 70, kernelHeight: 1, kernelWidth: 1), 2, 33, 32),
            (Conv2dShape(inChannels: 3, outChannels: 20, kernelHeight: 7, kernelWidth: 7, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 3, paddingWidth: 3), 2, 65, 67),
            (Conv2dShape(inChannels: 300, outChannels: 2, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1), 4, 31, 31),
            (Conv2dShape(inChannels: 130, outChannels: 9, kernelHeight: 1, kernelWidth: 1), 3, 7, 7),
            // A stem on 230×230: 115 output rows in bands of 15 (1 MiB of unfolded input), the last one of 10.
            (Conv2dShape(inChannels: 3, outChannels: 16, kernelHeight: 7, kernelWidth: 7, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 3, paddingWidth: 3), 1, 230, 230),
        ]
        for (shape, batch, height, width) in layers {
            let x = random.tensor([batch, shape.inChannels, height, width])
            let weight = random.tensor([shape.outChannels, shape.inChannels, shape.kernelHeight, shape.kernelWidth])
            let bias = random.tensor([shape.outChannels])
            assertConvolutionMatchesNaive(x, weight: weight, bias: bias, shape: shape, random: &random, "\(shape)")
        }
    }
}
