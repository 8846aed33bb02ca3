// Convolutions whose unfolded input `conv2d` reads from stride phases (PhaseSplitConvolution.swift)
// against an unfolded matrix built here and multiplied by `gemm` (bit for bit: the same terms in
// the same order) and against the naive loops.
import LiftCAM
import XCTest

final class PhaseSplitConvolutionTests: PlatformTestCase {
    /// unfolded[(c·kh + u)·kw + v, oy·ow + ox] = x[c, oy·sh − pt + u·dh, ox·sw − pl + v·dw], zero in the
    /// padding: what im2col writes, by the definition.
    private func unfold(_ x: [Float], height: Int, width: Int, shape: Conv2dShape, outputHeight: Int, outputWidth: Int) -> [Float] {
        let (kh, kw) = (shape.kernelHeight, shape.kernelWidth), positions = outputHeight * outputWidth
        var unfolded = [Float](repeating: 0, count: shape.inChannels * kh * kw * positions)
        for c in 0 ..< shape.inChannels {
            for u in 0 ..< kh {
                for v in 0 ..< kw {
                    for oy in 0 ..< outputHeight {
                        for ox in 0 ..< outputWidth {
                            let iy = oy * shape.strideHeight - shape.paddingHeight + u * shape.dilationHeight
                            let ix = ox * shape.strideWidth - shape.paddingWidth + v * shape.dilationWidth
                            guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                            let row: Int = (c * kh + u) * kw + v
                            let source: Int = (c * height + iy) * width + ix
                            unfolded[row * positions + oy * outputWidth + ox] = x[source]
                        }
                    }
                }
            }
        }
        return unfolded
    }

    /// 40 seeded layers through `conv2d` and through a `Conv2dLayer` with its ReLU: kernels 2×2 to
    /// 7×7 and 1×3, strides 1–3 (each side its own), dilation 1–2, unequal padding on all four sides,
    /// output rows of 8 to 90 positions (panels that span two or three of them, partial last panels),
    /// batch 1–2, with and without bias. Both agree bit for bit with `gemm` on the unfolded input
    /// (plus the bias, then the ReLU) and within 1e-5 · (1 + max |y|) with `conv2dNaive`.
    func testMatchesUnfoldedProductAndNaive() {
        var random = KernelTestRandom(seed: 0x9A5E)
        var tested = 0
        while tested < 40 {
            let (kh, kw) = random.pick([(3, 3), (7, 7), (5, 5), (2, 2), (1, 3), (3, 1)])
            let shape = Conv2dShape(inChannels: random.pick([1, 3, 8, 21]), outChannels: random.pick([5, 6, 16, 33]),
                                    kernelHeight: kh, kernelWidth: kw,
                                    strideHeight: random.int(1 ... 3), strideWidth: random.int(1 ... 3),
                                    paddingHeight: random.int(0 ... kh / 2), paddingWidth: random.int(0 ... kw / 2),
                                    paddingBottom: random.int(0 ... kh / 2), paddingRight: random.int(0 ... kw / 2),
                                    dilationHeight: random.int(1 ... 2), dilationWidth: random.int(1 ... 2))
            let (height, width, batch) = (random.int(6 ... 30), random.int(10 ... 90), random.int(1 ... 2))
            let (outputHeight, outputWidth) = shape.outputSize(height: height, width: width)
            guard outputHeight >= 1, convolutionReadsPhases(shape, batch: batch, outputHeight: outputHeight, outputWidth: outputWidth),
                  !winogradPays(shape: shape, batch: batch, height: height, width: width),
                  !convolutionRunsTransposed(shape, batch: batch, outputPlane: outputHeight * outputWidth) else { continue }
            assertMatchesUnfoldedProduct(shape, batch: batch, height: height, width: width, random: &random,
                                         "trial \(tested): \(shape) on [\(batch), \(height), \(width)]")
            tested += 1
        }
    }

    /// Padding wider than the input (ONNX allows any): column phases that start past the input's last
    /// column (2 columns, a 1×3 kernel of stride 3 reading all three phases, 38 padded on the right:
    /// phase 2 starts at padded column 2, past the input), rows and columns of padding only above
    /// and left of a 3×3 input, and a dilated kernel reaching across the whole padded plane.
    func testPaddingWiderThanTheInput() {
        var random = KernelTestRandom(seed: 0xBAD)
        let layers: [(Conv2dShape, Int, Int)] = [
            (Conv2dShape(inChannels: 2, outChannels: 7, kernelHeight: 1, kernelWidth: 3, strideHeight: 1, strideWidth: 3,
                         paddingHeight: 0, paddingWidth: 0, paddingBottom: 0, paddingRight: 38), 4, 2),
            (Conv2dShape(inChannels: 3, outChannels: 5, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 5, paddingWidth: 5, paddingBottom: 9, paddingRight: 9), 3, 3),
            (Conv2dShape(inChannels: 4, outChannels: 6, kernelHeight: 3, kernelWidth: 3, strideHeight: 3, strideWidth: 2,
                         paddingHeight: 7, paddingWidth: 11, paddingBottom: 2, paddingRight: 13,
                         dilationHeight: 2, dilationWidth: 2), 5, 4),
        ]
        for (shape, height, width) in layers {
            let output = shape.outputSize(height: height, width: width)
            XCTAssertTrue(convolutionReadsPhases(shape, batch: 1, outputHeight: output.height, outputWidth: output.width),
                          "\(shape): phases not read")
            assertMatchesUnfoldedProduct(shape, batch: 1, height: height, width: width, random: &random,
                                         "\(shape) on \(height)×\(width)")
        }
    }

    /// `conv2d` and a `Conv2dLayer` with its ReLU on a random input: bit for bit against `gemm` on the
    /// unfolded input built here (plus the bias, then the ReLU), within 1e-5 · (1 + max |y|) of `conv2dNaive`.
    private func assertMatchesUnfoldedProduct(_ shape: Conv2dShape, batch: Int, height: Int, width: Int,
                                              random: inout KernelTestRandom, _ what: String) {
        let (outputHeight, outputWidth) = shape.outputSize(height: height, width: width)
        let (kh, kw) = (shape.kernelHeight, shape.kernelWidth)
        let x = random.tensor([batch, shape.inChannels, height, width]), weight = random.tensor(shape.weightShape)
        let bias = random.bool() ? random.tensor([shape.outChannels]) : nil
        let positions = outputHeight * outputWidth, itemSize = shape.inChannels * height * width
        let depth = shape.inChannels * kh * kw
        var expected: [Float] = []
        for item in 0 ..< batch {
            let unfolded = unfold(Array(x.storage[item * itemSize ..< (item + 1) * itemSize]), height: height, width: width,
                                  shape: shape, outputHeight: outputHeight, outputWidth: outputWidth)
            var product = [Float](repeating: 0, count: shape.outChannels * positions)
            weight.storage.withUnsafeBufferPointer { w in
            unfolded.withUnsafeBufferPointer { u in
            (bias?.storage ?? []).withUnsafeBufferPointer { b in
            product.withUnsafeMutableBufferPointer { y in
                gemm(m: shape.outChannels, n: positions, k: depth, a: w.baseAddress!, lda: depth,
                     transA: false, b: u.baseAddress!, ldb: positions, transB: false, c: y.baseAddress!, ldc: positions,
                     accumulate: false, rowBias: bias == nil ? nil : b.baseAddress)
            }}}}
            expected += product
        }
        let actual = conv2d(x, weight: weight, bias: bias, shape: shape)
        assertBitwiseEqual(actual.storage, expected, what)
        assertClose(actual.storage, conv2dNaive(x, weight: weight, bias: bias, shape: shape).storage,
                    relativeTolerance: 1e-5, what + ", naive")
        let layer = ConvolutionReLU(convolution: Conv2dLayer(name: "conv", weight: weight, bias: bias, geometry: shape),
                                    relu: ReLULayer(name: "relu"))
        assertBitwiseEqual(layer.forward(x).storage, expected.map { max($0, 0) }, what + ", ReLU")
    }

    /// Where the phases are read: ResNet's stem and strided 3×3 layers; not 1×1 layers (strided or
    /// not), grouped ones, output rows under 8 (a panel would span more than three), or small planes
    /// batched together.
    func testPhasesAreReadWhereTheyApply() {
        let stem = Conv2dShape(inChannels: 3, outChannels: 64, kernelHeight: 7, kernelWidth: 7, strideHeight: 2, strideWidth: 2,
                               paddingHeight: 3, paddingWidth: 3)
        XCTAssertTrue(convolutionReadsPhases(stem, batch: 1, outputHeight: 112, outputWidth: 112))
        let strided = Conv2dShape(inChannels: 128, outChannels: 128, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                  paddingHeight: 1, paddingWidth: 1)
        XCTAssertTrue(convolutionReadsPhases(strided, batch: 1, outputHeight: 28, outputWidth: 28))
        XCTAssertFalse(convolutionReadsPhases(strided, batch: 1, outputHeight: 7, outputWidth: 7))
        XCTAssertFalse(convolutionReadsPhases(strided, batch: 8, outputHeight: 14, outputWidth: 14))
        let pointwise = Conv2dShape(inChannels: 64, outChannels: 64, kernelHeight: 1, kernelWidth: 1)
        XCTAssertFalse(convolutionReadsPhases(pointwise, batch: 1, outputHeight: 56, outputWidth: 56))
        let downsample = Conv2dShape(inChannels: 256, outChannels: 512, kernelHeight: 1, kernelWidth: 1, strideHeight: 2, strideWidth: 2)
        XCTAssertFalse(convolutionReadsPhases(downsample, batch: 1, outputHeight: 28, outputWidth: 28))
        let grouped = Conv2dShape(inChannels: 64, outChannels: 64, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1,
                                  paddingWidth: 1, groups: 2)
        XCTAssertFalse(convolutionReadsPhases(grouped, batch: 1, outputHeight: 56, outputWidth: 56))
    }
}
