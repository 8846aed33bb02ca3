// Grouped, depthwise, dilated and asymmetrically padded convolutions: the generalised naive twins
// against the groups-1 loops they reduce to, the fast kernels (conv2dDepthwise, grouped im2col + GEMM)
// against the naive twins, and the layer's folding and ReLU on grouped weights.
import LiftCAM
import XCTest

/// A random convolution beyond groups 1: `depthwise` gives groups == channels (2 to 40 channels,
/// multiplier 1–3), otherwise 1–4 groups of 1–24 channels (direct up to 8, im2col + GEMM above); kernels 1×1 to 7×7 and 1×3, 3×1, 2×2;
/// strides and dilations 1–3; each side padded 0–3; widths on both sides of 16; batch 1–2.
func randomGroupedLayer(_ random: inout KernelTestRandom, depthwise: Bool)
    -> (shape: Conv2dShape, batch: Int, height: Int, width: Int) {
    let groups = depthwise ? random.pick([2, 3, 8, 17, 32, 40]) : random.pick([1, 2, 3, 4])
    let groupIn = depthwise ? 1 : random.pick([1, 2, 3, 8, 17, 24])
    let groupOut = depthwise ? random.pick([1, 1, 2, 3]) : random.pick([1, 2, 5, 8])
    let (kernelHeight, kernelWidth) = random.pick([(1, 1), (3, 3), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1), (2, 2)])
    let shape = Conv2dShape(inChannels: groups * groupIn, outChannels: groups * groupOut,
                            kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                            strideHeight: random.int(1 ... 3), strideWidth: random.int(1 ... 3),
                            paddingHeight: random.int(0 ... 3), paddingWidth: random.int(0 ... 3),
                            paddingBottom: random.int(0 ... 3), paddingRight: random.int(0 ... 3),
                            dilationHeight: random.pick([1, 1, 2, 3]), dilationWidth: random.pick([1, 1, 2, 3]), groups: groups)
    let spanHeight = shape.dilationHeight * (kernelHeight - 1) + 1 - shape.paddingHeight - shape.paddingBottom
    let spanWidth = shape.dilationWidth * (kernelWidth - 1) + 1 - shape.paddingWidth - shape.paddingRight
    let height = max(random.pick([1, 3, 7, 12, 17, 30]), spanHeight, 1)
    let width = max(random.pick([1, 3, 7, 15, 16, 17, 31, 33, 40, 57]), spanWidth, 1)
    return (shape, random.int(1 ... 2), height, width)
}

extension KernelConvolutionTests {
    /// Fast against naive on 40 layers (`assertConvolutionMatchesNaive`), and the depthwise kernel's ReLU.
    private func checkAgainstNaive(depthwise: Bool, seed: UInt64) {
        var random = KernelTestRandom(seed: seed)
        for trial in 0 ..< 40 {
            let (shape, batch, height, width) = randomGroupedLayer(&random, depthwise: depthwise)
            XCTAssertNil(shape.problem, "\(shape)")
            if depthwise { XCTAssertTrue(shape.isDepthwise, "\(shape)") }   // grouped ones of width 1 are, too
            let x = random.tensor([batch, shape.inChannels, height, width])
            let weight = random.tensor(shape.weightShape)
            let bias = random.bool() ? random.tensor([shape.outChannels]) : nil
            let what = "trial \(trial): \(shape) on [\(batch), \(height), \(width)]"
            let y = assertConvolutionMatchesNaive(x, weight: weight, bias: bias, shape: shape, random: &random, what)
            if depthwise {
                let rectified = conv2dDepthwise(x, weight: weight, bias: bias, shape: shape, applyReLU: true)
                assertClose(rectified.storage, reluNaive(y).storage, relativeTolerance: 1e-5, "\(what) ReLU")
            }
        }
    }

    func testDepthwiseConvolutionMatchesNaive() { checkAgainstNaive(depthwise: true, seed: 0xD3) }

    func testGroupedConvolutionMatchesNaive() { checkAgainstNaive(depthwise: false, seed: 0x6A0) }

    /// MobileNetV2- and EfficientNet-sized depthwise layers, large enough to run on all cores.
    func testDepthwiseConvolutionMatchesNaiveOnLargeLayers() {
        var random = KernelTestRandom(seed: 0xB1D)
        let layers: [(Conv2dShape, Int, Int)] = [
            (Conv2dShape(inChannels: 32, outChannels: 32, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 1,
                         groups: 32), 2, 112),
            (Conv2dShape(inChannels: 96, outChannels: 96, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 1, paddingWidth: 1, groups: 96), 1, 112),
            (Conv2dShape(inChannels: 24, outChannels: 48, kernelHeight: 5, kernelWidth: 5, strideHeight: 2, strideWidth: 2,
                         paddingHeight: 1, paddingWidth: 1, paddingBottom: 2, paddingRight: 2, groups: 24), 1, 57),
        ]
        for (shape, batch, size) in layers {
            let x = random.tensor([batch, shape.inChannels, size, size])
            let weight = random.tensor(shape.weightShape), bias = random.tensor([shape.outChannels])
            assertConvolutionMatchesNaive(x, weight: weight, bias: bias, shape: shape, random: &random, "\(shape)")
        }
    }

    /// The generalised naive twin against the groups-1 loops it reduces to, each feature alone:
    /// groups are the per-group convolutions side by side; a dilated kernel is the dense kernel with
    /// d − 1 zeros between its taps; bottom and right padding is explicit zero padding. Equal to the
    /// last bit: the same products are summed in the same order (zeros add nothing).
    func testNaiveGeneralisationReducesToPlainConvolution() {
        var random = KernelTestRandom(seed: 0x9A1)
        // Groups: 3 groups of 2 input and 4 output channels.
        let grouped = Conv2dShape(inChannels: 6, outChannels: 12, kernelHeight: 3, kernelWidth: 3,
                                  strideHeight: 2, paddingHeight: 1, paddingWidth: 1, groups: 3)
        let x = random.tensor([2, 6, 9, 11]), weight = random.tensor(grouped.weightShape), bias = random.tensor([12])
        let y = conv2dNaive(x, weight: weight, bias: bias, shape: grouped)
        var plain = grouped
        (plain.inChannels, plain.outChannels, plain.groups) = (2, 4, 1)
        for group in 0 ..< 3 {
            var sliceValues: [Float] = []
            for n in 0 ..< 2 {
                let start: Int = (n * 6 + 2 * group) * 99
                sliceValues += x.storage[start ..< start + 2 * 99]
            }
            let groupWeight = Tensor(shape: [4, 2, 3, 3], storage: Array(weight.storage[group * 72 ..< group * 72 + 72]))
            let groupBias = Tensor(shape: [4], storage: Array(bias.storage[group * 4 ..< group * 4 + 4]))
            let part = conv2dNaive(Tensor(shape: [2, 2, 9, 11], storage: sliceValues), weight: groupWeight, bias: groupBias,
                                   shape: plain)
            let plane = part.count / 8
            for n in 0 ..< 2 {
                let partStart: Int = n * 4 * plane, wholeStart: Int = (n * 12 + 4 * group) * plane
                XCTAssertEqual(Array(part.storage[partStart ..< partStart + 4 * plane]),
                               Array(y.storage[wholeStart ..< wholeStart + 4 * plane]), "group \(group)")
            }
        }
        // Dilation 2×3 of a 2×2 kernel: the 3×4 kernel [[a, 0, 0, b], [0, 0, 0, 0], [c, 0, 0, d]].
        let dilated = Conv2dShape(inChannels: 2, outChannels: 3, kernelHeight: 2, kernelWidth: 2,
                                  paddingHeight: 1, paddingWidth: 2, dilationHeight: 2, dilationWidth: 3)
        let dx = random.tensor([1, 2, 8, 10]), dw = random.tensor(dilated.weightShape)
        var spread = [Float](repeating: 0, count: 3 * 2 * 3 * 4)
        for oc in 0 ..< 6 {
            for u in 0 ..< 2 {
                for v in 0 ..< 2 { spread[oc * 12 + 2 * u * 4 + 3 * v] = dw.storage[oc * 4 + u * 2 + v] }
            }
        }
        let dense = Conv2dShape(inChannels: 2, outChannels: 3, kernelHeight: 3, kernelWidth: 4, paddingHeight: 1, paddingWidth: 2)
        XCTAssertTrue(dilated.outputSize(height: 8, width: 10) == dense.outputSize(height: 8, width: 10))
        XCTAssertEqual(conv2dNaive(dx, weight: dw, bias: nil, shape: dilated),
                       conv2dNaive(dx, weight: Tensor(shape: [3, 2, 3, 4], storage: spread), bias: nil, shape: dense))
        // Padding top 1, left 0, bottom 3, right 2: the input with 1 zero row above, 3 below, 2 zero columns right.
        let asymmetric = Conv2dShape(inChannels: 1, outChannels: 2, kernelHeight: 3, kernelWidth: 3,
                                     strideHeight: 2, strideWidth: 1, paddingHeight: 1, paddingWidth: 0,
                                     paddingBottom: 3, paddingRight: 2)
        let ax = random.tensor([1, 1, 5, 6]), aw = random.tensor(asymmetric.weightShape)
        var paddedInput = [Float](repeating: 0, count: 9 * 8)
        for row in 0 ..< 5 {
            for column in 0 ..< 6 { paddedInput[(row + 1) * 8 + column] = ax.storage[row * 6 + column] }
        }
        let unpadded = Conv2dShape(inChannels: 1, outChannels: 2, kernelHeight: 3, kernelWidth: 3, strideHeight: 2)
        XCTAssertEqual(conv2dNaive(ax, weight: aw, bias: nil, shape: asymmetric),
                       conv2dNaive(Tensor(shape: [1, 1, 9, 8], storage: paddedInput), weight: aw, bias: nil, shape: unpadded))
    }

    /// ONNX's output size floor((H + p_top + p_bottom − d·(k − 1) − 1) / s) + 1; validation; defaults.
    func testGeneralGeometry() throws {
        let shape = Conv2dShape(inChannels: 4, outChannels: 8, kernelHeight: 3, kernelWidth: 5, strideHeight: 2, strideWidth: 3,
                                paddingHeight: 1, paddingWidth: 0, paddingBottom: 2, paddingRight: 4,
                                dilationHeight: 2, dilationWidth: 1, groups: 2)
        // (7 + 1 + 2 − 4 − 1) / 2 = 2 → 3 rows; (10 + 0 + 4 − 4 − 1) / 3 = 3 → 4 columns.
        XCTAssertTrue(shape.outputSize(height: 7, width: 10) == (3, 4))
        XCTAssertEqual(shape.weightShape, [8, 2, 3, 5])
        XCTAssertFalse(shape.isPlain || shape.isDepthwise || winogradApplies(to: shape))
        XCTAssertNoThrow(try shape.check())
        let symmetric = Conv2dShape(inChannels: 3, outChannels: 3, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1, paddingWidth: 2)
        XCTAssertEqual(symmetric.paddingBottom, 1)
        XCTAssertEqual(symmetric.paddingRight, 2)
        XCTAssertTrue(symmetric.isPlain && winogradApplies(to: symmetric))
        var bad = symmetric
        bad.groups = 2
        XCTAssertThrowsError(try bad.check())
        for change in [{ (s: inout Conv2dShape) in s.strideWidth = 0 }, { $0.dilationHeight = 0 }, { $0.paddingRight = -1 },
                       { $0.outChannels = 0 }] {
            var invalid = symmetric
            change(&invalid)
            XCTAssertNotNil(invalid.problem, "\(invalid)")
        }
        let depthwise = Conv2dShape(inChannels: 3, outChannels: 6, kernelHeight: 3, kernelWidth: 3, groups: 3)
        XCTAssertTrue(depthwise.isDepthwise && !winogradApplies(to: depthwise))
        let layer = Conv2dLayer(name: "dw", weight: Tensor(shape: [6, 3, 3, 3]), bias: nil, geometry: depthwise)
        XCTAssertThrowsError(try layer.outputShape(for: [3, 8, 8]))
        let right = Conv2dLayer(name: "dw", weight: Tensor(shape: [6, 1, 3, 3]), bias: nil, geometry: depthwise)
        XCTAssertEqual(try right.outputShape(for: [3, 8, 9]), [6, 6, 7])
    }

    /// Grouped (im2col + GEMM and direct) and depthwise convolutions, each followed by a batch-norm and a ReLU, fast against
    /// literal: `fused()` folds the batch-norm into the grouped weight (one scale per output channel,
    /// over that channel's C/G inputs), and every pass agrees.
    func testLayersFoldBatchNormIntoGroupedWeights() {
        var random = KernelTestRandom(seed: 0xF01D)
        for shape in [Conv2dShape(inChannels: 72, outChannels: 12, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1,
                                  paddingWidth: 1, dilationHeight: 2, groups: 4),
                      Conv2dShape(inChannels: 8, outChannels: 12, kernelHeight: 3, kernelWidth: 3, paddingHeight: 1,
                                  paddingWidth: 1, dilationHeight: 2, groups: 4),
                      Conv2dShape(inChannels: 16, outChannels: 16, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                  paddingHeight: 0, paddingWidth: 0, paddingBottom: 1, paddingRight: 1, groups: 16)] {
            let conv = Conv2dLayer(name: "conv", weight: random.tensor(shape.weightShape), bias: random.tensor([shape.outChannels]),
                                   geometry: shape)
            let scale = random.floats(shape.outChannels), shift = random.floats(shape.outChannels)
            let chain = Sequential(name: "block", layers: [conv, ChannelAffineLayer(name: "bn", scale: scale, shift: shift),
                                                           ReLULayer(name: "relu")])
            let fused = chain.fused()
            XCTAssertEqual(fused.layers.count, 2, "\(shape): batch-norm folded")
            let x = random.tensor([2, shape.inChannels, 15, 14])
            let literal = chain.using(.literal)
            let expected = literal.forward(x)
            assertClose(fused.forward(x).storage, expected.storage, relativeTolerance: 1e-5, "\(shape) forward")
            let trace = fused.forwardTrace(x), literalTrace = literal.forwardTrace(x)
            let g = random.tensor(expected.shape)
            assertClose(fused.backward(g, trace: trace, reference: nil).storage,
                        literal.backward(g, trace: literalTrace, reference: nil).storage, relativeTolerance: 1e-5, "\(shape) backward")
        }
    }
}
