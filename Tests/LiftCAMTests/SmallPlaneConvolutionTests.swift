// Convolutions on small planes, which `Conv2dLayer` computes as the transposed product
// (`conv2dSmallPlane`), against the naive loops: ResNet's 7×7 layers and random ones, with and
// without bias, ReLU and ReLU6 in the product's write-back.
import LiftCAM
import XCTest

final class SmallPlaneConvolutionTests: PlatformTestCase {
    /// Runs `shape` on `x` through a `Conv2dLayer` (bare, with a ReLU, with a clip to 0…6) and checks
    /// each against `conv2dNaive` followed by the same clamp: max |Δ| ≤ 1e-5 · (1 + max |reference|),
    /// the bound of the other convolution twins (sums of up to 4608 products in another order), the
    /// scale taken before clamping (a value near 6 carries the rounding of sums up to max |reference|).
    private func assertTransposedLayerMatchesNaive(_ shape: Conv2dShape, height: Int, width: Int, bias: Bool,
                                                   random: inout KernelTestRandom, _ what: String) {
        let x = random.tensor([1, shape.inChannels, height, width])
        let convolution = Conv2dLayer(name: "conv", weight: random.tensor(shape.weightShape),
                                      bias: bias ? random.tensor([shape.outChannels]) : nil, geometry: shape)
        let output = shape.outputSize(height: height, width: width)
        // The path `Conv2dLayer.forward` takes: Winograd is tried first, so it must not apply.
        XCTAssertTrue(convolutionRunsTransposed(shape, batch: 1, outputPlane: output.height * output.width)
                      && !winogradPays(shape: shape, batch: 1, height: height, width: width), "\(what): not a small-plane call")
        let reference = conv2dNaive(x, weight: convolution.weight, bias: convolution.bias, shape: shape)
        assertClose(convolution.forward(x).storage, reference.storage, relativeTolerance: 1e-5, what)
        let relu = ConvolutionReLU(convolution: convolution, relu: ReLULayer(name: "relu"))
        assertClose(relu.forward(x).storage, reference.storage.map { max($0, 0) }, relativeTolerance: 1e-5, "\(what), ReLU")
        let clip = ConvolutionReLU(convolution: convolution, clip: ElementwiseLayer(name: "clip", function: .clip(lower: 0, upper: 6)))!
        let tolerance = 1e-5 * (1 + (reference.storage.map(abs).max() ?? 0)) / 7
        assertClose(clip.forward(x).storage, reference.storage.map { min(max($0, 0), 6) }, relativeTolerance: tolerance, "\(what), ReLU6")
    }

    /// ResNet50's layer4 shapes: 3×3 on 7×7 (4608 deep: 18 slabs; dilated 2, as ResNet's own runs
    /// Winograd F(2×2, 3×3)), stride 2 from 14×14, 1×1 from and to 2048 channels, the stride-2
    /// downsample; and a one-position layer with a partial panel.
    func testResNetSevenBySevenLayersMatchNaive() {
        var random = KernelTestRandom(seed: 0x77)
        let layers: [(Conv2dShape, Int)] = [
            (Conv2dShape(inChannels: 512, outChannels: 512, kernelHeight: 3, kernelWidth: 3, paddingHeight: 2, paddingWidth: 2,
                         dilationHeight: 2, dilationWidth: 2), 7),
            (Conv2dShape(inChannels: 512, outChannels: 512, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 1, paddingWidth: 1), 14),
            (Conv2dShape(inChannels: 2048, outChannels: 512, kernelHeight: 1, kernelWidth: 1), 7),
            (Conv2dShape(inChannels: 512, outChannels: 2048, kernelHeight: 1, kernelWidth: 1), 7),
            (Conv2dShape(inChannels: 1024, outChannels: 2048, kernelHeight: 1, kernelWidth: 1, strideHeight: 2, strideWidth: 2), 14),
            // One position, 40 channels: the last 8 go through the scalar turn-back of Yᵀ.
            (Conv2dShape(inChannels: 64, outChannels: 40, kernelHeight: 3, kernelWidth: 3), 3),
        ]
        for (index, (shape, size)) in layers.enumerated() {
            assertTransposedLayerMatchesNaive(shape, height: size, width: size, bias: index % 2 == 0, random: &random,
                                              "\(shape) on \(size)×\(size)")
        }
    }

    /// 30 random small-plane layers: kernels 1×1 to 5×5 and 1×3, strides 1–2, unequal and
    /// one-sided padding, dilation 2, output planes of 1 to 100 positions (partial 6-row panels),
    /// channel counts that leave partial 16-column panels; shapes the transposed path does not take
    /// are drawn again.
    func testRandomSmallPlaneLayersMatchNaive() {
        var random = KernelTestRandom(seed: 0x5A11)
        var tested = 0
        while tested < 30 {
            let (kernelHeight, kernelWidth) = random.pick([(1, 1), (3, 3), (5, 5), (1, 3), (3, 1)])
            let shape = Conv2dShape(inChannels: random.pick([1, 3, 17, 64, 300]), outChannels: random.pick([16, 40, 48, 64, 80, 100]),
                                    kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                    strideHeight: random.int(1 ... 2), strideWidth: random.int(1 ... 2),
                                    paddingHeight: random.int(0 ... kernelHeight / 2), paddingWidth: random.int(0 ... kernelWidth / 2),
                                    paddingBottom: random.int(0 ... kernelHeight / 2), paddingRight: random.int(0 ... kernelWidth / 2),
                                    dilationHeight: random.int(1 ... 2))
            let height = random.int(kernelHeight * 2 ... 12), width = random.int(kernelWidth ... 12)
            let output = shape.outputSize(height: height, width: width)
            guard output.height >= 1, output.width >= 1,
                  convolutionRunsTransposed(shape, batch: 1, outputPlane: output.height * output.width),
                  !winogradPays(shape: shape, batch: 1, height: height, width: width) else { continue }
            assertTransposedLayerMatchesNaive(shape, height: height, width: width, bias: random.bool(), random: &random,
                                              "trial \(tested): \(shape) on \(height)×\(width)")
            tested += 1
        }
    }

    /// Where the transposed product pays: 7×7 planes with channel counts that fill 16-lane panels,
    /// not 14×14 planes (196 positions fill 16-column panels almost as well), nor batches or groups.
    func testTransposedProductIsChosenForSmallPlanesOnly() {
        let wide = Conv2dShape(inChannels: 512, outChannels: 512, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1)
        XCTAssertTrue(convolutionRunsTransposed(wide, batch: 1, outputPlane: 49))
        XCTAssertFalse(convolutionRunsTransposed(wide, batch: 1, outputPlane: 196))
        XCTAssertFalse(convolutionRunsTransposed(wide, batch: 2, outputPlane: 49))
        let grouped = Conv2dShape(inChannels: 512, outChannels: 512, kernelHeight: 3, kernelWidth: 3, groups: 2)
        XCTAssertFalse(convolutionRunsTransposed(grouped, batch: 1, outputPlane: 49))
        // 48 positions fill three 16-column panels: the direct product wastes nothing there.
        XCTAssertFalse(convolutionRunsTransposed(wide, batch: 1, outputPlane: 48))
    }
}
