import Foundation
import LiftCAM
import XCTest

/// Every method on maps that carry no information (all-zero activations, constant maps) and a
/// target of probability 0: the results SPEC.md defines ("Degenerate inputs"), never NaN.
final class DegenerateMapTests: PlatformTestCase {
    /// conv-ReLU-pool-conv-ReLU, K = 6 maps of 6 × 6 at features.4, 3 classes, input 3 × 12 × 12.
    private let architecture = Architecture.vgg(VGGConfiguration(config: [.convolution(4), .maxPool, .convolution(6)], batchNorm: false,
                                                                 pool: (2, 2), classifier: [8], classes: 3, inputShape: [3, 12, 12]))

    /// The tiny network with its second convolution replaced: weights 0 and bias `bias`, so every
    /// map k at features.4 is the constant ReLU(bias_k).
    private func network(secondConvolutionBias bias: [Float], classifierBias: [Float]? = nil) throws -> Network {
        var tensors = try RandomWeights(seed: 5).stateDictionary(for: architecture)
        tensors["features.3.weight"] = Tensor(shape: [6, 4, 3, 3])
        tensors["features.3.bias"] = Tensor(shape: [6], storage: bias)
        if let classifierBias { tensors["classifier.3.bias"] = Tensor(shape: [3], storage: classifierBias) }
        return try Network(architecture: architecture, weights: InMemoryWeights(tensors))
    }

    private func input(seed: UInt64) -> Tensor {
        var random = SplitMix64(seed: seed)
        return Tensor(shape: [3, 12, 12], storage: (0..<432).map { _ in Float(random.next() >> 40) / Float(1 << 24) - 0.5 })
    }

    private let options = MethodOptions(orderings: 16, seed: 3, limeSamples: 24)

    private func assertFinite(_ values: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(firstNonFiniteElement(values), "\(what) holds a non-finite value", file: file, line: line)
    }

    /// A = 0: every α is finite, L = ReLU(Σ α_k · 0) = 0 exactly, and s(u(L)) is all zeros.
    func testAllZeroActivationsGiveZeroMapsForEveryMethod() throws {
        let explainer = try Explainer(network: network(secondConvolutionBias: [Float](repeating: -1, count: 6)), input: input(seed: 1))
        XCTAssertEqual(explainer.activations.storage, [Float](repeating: 0, count: 216))
        for method in CAMMethod.allCases {
            let explanation = try explainer.explain(method, target: 1, options: options)
            assertFinite(explanation.coefficients, "\(method) α")
            XCTAssertEqual(explanation.map.storage, [Float](repeating: 0, count: 36), "\(method)")
            XCTAssertEqual(explanation.saliency.storage, [Float](repeating: 0, count: 144), "\(method)")
        }
        // The methods that attribute the change F^c(A) − F^c(0) give exactly nothing to absent maps.
        for method in [CAMMethod.lift, .ablation, .shap, .shapExact, .scorecam] {
            XCTAssertEqual(try explainer.coefficients(method, target: 1, options: options), [Float](repeating: 0, count: 6), "\(method)")
        }
    }

    /// Constant maps A_k = b_k > 0: L^c is constant, which has no preferred region, so s(u(L)) = 0
    /// everywhere (not the ±1-ulp noise of upsampling stretched to [0, 1]); Score-CAM gives α = 0.
    func testConstantMapsGiveAllZeroSaliencyForEveryMethod() throws {
        let bias: [Float] = [0.5, 1, 1.5, 0.25, 2, 0.75]
        let explainer = try Explainer(network: network(secondConvolutionBias: bias), input: input(seed: 2))
        for k in 0..<6 { XCTAssertEqual(Set(explainer.activations.storage[k * 36 ..< (k + 1) * 36]), [bias[k]]) }
        for method in CAMMethod.allCases {
            let explanation = try explainer.explain(method, target: 0, options: options)
            assertFinite(explanation.coefficients, "\(method) α")
            XCTAssertEqual(Set(explanation.map.storage).count, 1, "\(method): L is constant")
            XCTAssertEqual(explanation.saliency.storage, [Float](repeating: 0, count: 144), "\(method)")
        }
        XCTAssertEqual(try explainer.coefficients(.scorecam, target: 0), [Float](repeating: 0, count: 6))
    }

    /// A zero saliency map scored by every metric: Y, O, D, the curves, the pointing game (0: no
    /// energy anywhere) and the summary are all finite numbers.
    func testMetricsOfAZeroMapAreFinite() throws {
        let explainer = try Explainer(network: network(secondConvolutionBias: [Float](repeating: -1, count: 6)), input: input(seed: 3))
        let explanation = try explainer.explain(.gradcam, target: 2)
        let scores = scoreExplanation(network: explainer.network, input: explainer.input, target: 2, saliency: explanation.saliency,
                                      box: BoundingBox(xMin: 2, yMin: 2, xMax: 8, yMax: 8), cosineToSHAP: cosineSimilarity([0, 0], [1, 2]))
        XCTAssertEqual(scores.energyPointingGame, 0)
        XCTAssertEqual(scores.cosineToSHAP, 0)
        let summary = MethodSummary([scores, scores])
        let numbers = [scores.original, scores.explanation, scores.deletion, scores.insertionAUC, scores.deletionAUC,
                       summary.increaseInConfidence, summary.averageDrop, summary.averageDropInDeletion, summary.insertionAUC, summary.deletionAUC]
        XCTAssertTrue((numbers + scores.insertionCurve + scores.deletionCurve).allSatisfy(\.isFinite), "\(numbers)")
        // e = s ∘ x = 0 and (1 − s) ∘ x = x: the deletion image is the input itself, so D = Y.
        XCTAssertEqual(scores.deletion, scores.original)
    }

    /// Y^c = 0 (a softmax that underflowed): the image's terms of Eqs 13 and 14 are 0.
    func testZeroProbabilityTargetsContributeNoDrop() throws {
        // By hand: (0 + (0.5 − 0.25)/0.5) / 2 × 100 = 25 and (0 + (0.5 − 0.4)/0.5) / 2 × 100 = 10.
        XCTAssertEqual(averageDrop(original: [0, 0.5], explanation: [0.1, 0.25]), 25, accuracy: 1e-12)
        XCTAssertEqual(averageDropInDeletion(original: [0, 0.5], deletion: [0.2, 0.4]), 10, accuracy: 1e-12)
        XCTAssertEqual(averageDrop(original: [0], explanation: [0]), 0)
        XCTAssertEqual(averageDropInDeletion(original: [0], deletion: [0]), 0)

        // A class whose logit is 10^4 below the others has probability exactly 0 in Float.
        let net = try network(secondConvolutionBias: [0.5, -1, 1, 0.25, 2, -0.5], classifierBias: [0, 0, -1e4])
        let explainer = try Explainer(network: net, input: input(seed: 4))
        for method in [CAMMethod.lift, .gradcampp, .lrp, .scorecam] {
            let explanation = try explainer.explain(method, target: 2, options: options)
            assertFinite(explanation.coefficients + explanation.saliency.storage, "\(method)")
            let scores = scoreExplanation(network: explainer.network, input: explainer.input, target: 2,
                                          saliency: explanation.saliency, box: nil)
            XCTAssertEqual(scores.original, 0, "\(method)")
            let summary = MethodSummary([scores])
            XCTAssertEqual(summary.averageDrop, 0, "\(method)")
            XCTAssertEqual(summary.averageDropInDeletion, 0, "\(method)")
        }
    }
}

/// NaN and infinities are refused where they enter, by name and position.
final class NonFiniteValueTests: PlatformTestCase {
    /// The finder against a naive scan, with the bad value at block edges (4095, 4096) and the end.
    func testFirstNonFiniteElementMatchesANaiveScan() {
        for (position, value) in [(0, Float.nan), (4095, .infinity), (4096, -.infinity), (9999, .nan), (5000, Float(bitPattern: 0x7FC0_0001))] {
            var values = (0..<10_000).map { Float($0) * 1e30 }   // large but finite: 9999e30 < Float.greatestFiniteMagnitude
            values[position] = value
            values[9_999 - (position == 9999 ? 0 : 1)] = position == 9999 ? value : .nan   // a later one must not win
            let naive = values.firstIndex { !$0.isFinite }!
            XCTAssertEqual(firstNonFiniteElement(values)?.index, naive)
        }
        XCTAssertNil(firstNonFiniteElement((0..<5000).map { Float($0) - 2500 } + [.greatestFiniteMagnitude, -.greatestFiniteMagnitude]))
        XCTAssertNil(firstNonFiniteElement([]))
    }

    func testDescriptionNamesThePositionAndKind() {
        var tensor = Tensor(shape: [2, 3, 4], repeating: 1)
        tensor.storage[1 * 12 + 2 * 4 + 3] = -.infinity
        XCTAssertEqual(nonFiniteDescription(tensor), "element [1, 2, 3] (flat index 23) is -infinity")
        tensor.storage[5] = .nan
        XCTAssertEqual(nonFiniteDescription(tensor), "element [0, 1, 1] (flat index 5) is NaN")
        XCTAssertEqual(nonFiniteDescription(Tensor(shape: [], storage: [.infinity])), "element [] (flat index 0) is +infinity")
        XCTAssertNil(nonFiniteDescription(Tensor(shape: [0, 3])))
    }

    private let architecture = Architecture.vgg(VGGConfiguration(config: [.convolution(4), .maxPool, .convolution(6)], batchNorm: false,
                                                                 pool: (2, 2), classifier: [8], classes: 3, inputShape: [3, 12, 12]))

    func testWeightDirectoryRefusesNonFiniteWeightsByFileAndPosition() throws {
        let root = NSTemporaryDirectory() + "liftcam-nonfinite-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        var tensors = try RandomWeights(seed: 2).stateDictionary(for: architecture)
        try writeWeightDirectory(tensors, to: root)
        XCTAssertNoThrow(try WeightDirectory(path: root))
        tensors["features.3.weight"]!.storage[1 * 36 + 2 * 9 + 5] = .nan
        try writeWeightDirectory(tensors, to: root)
        XCTAssertThrowsError(try WeightDirectory(path: root)) {
            XCTAssertEqual("\($0)", "\(root)/features.3.weight.npy: element [1, 2, 1, 2] (flat index 59) is NaN; weights must be finite numbers")
        }
        tensors["features.3.weight"]!.storage[59] = 0
        tensors["classifier.0.bias"]!.storage[7] = .infinity
        try writeWeightDirectory(tensors, to: root)
        XCTAssertThrowsError(try WeightDirectory(path: root)) {
            XCTAssertEqual("\($0)", "\(root)/classifier.0.bias.npy: element [7] (flat index 7) is +infinity; weights must be finite numbers")
        }
    }

    func testExplainerRefusesNonFiniteInputsAndOverflow() throws {
        let tensors = try RandomWeights(seed: 2).stateDictionary(for: architecture)
        let network = try Network(architecture: architecture, weights: InMemoryWeights(tensors))
        var x = Tensor(shape: [3, 12, 12], repeating: 0.25)
        x.storage[2 * 144 + 5 * 12 + 7] = .nan
        XCTAssertThrowsError(try Explainer(network: network, input: x)) {
            XCTAssertEqual("\($0)", "input: element [2, 5, 7] (flat index 355) is NaN; inputs must be finite numbers")
        }
        // Finite but huge weights overflow Float in the first convolution: refused, not NaN maps.
        var huge = tensors
        huge["features.0.weight"] = Tensor(shape: [4, 3, 3, 3], repeating: 1e38)
        XCTAssertThrowsError(try Explainer(network: Network(architecture: architecture, weights: InMemoryWeights(huge)),
                                           input: Tensor(shape: [3, 12, 12], repeating: 1))) {
            XCTAssertTrue("\($0)".hasPrefix("the network overflows Float at layer 'features.4' or after it: element [0, "), "\($0)")
        }
    }
}
