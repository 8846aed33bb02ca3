import LiftCAM
import XCTest

/// Eqs 11–15 and the insertion/deletion AUCs on a case computed by hand.
///
/// The network: input [1, 2, 2]; features.0 is a 3×3 convolution whose first output channel copies
/// the centre pixel and whose second is zero; ReLU; a 1×1 average pool; one Linear with
/// W = [[1, 0], [0, 0]]. So logits = (mean(relu(x)), 0) and P(class 0) = σ(mean(relu(x))).
final class EvaluationMetricsTests: PlatformTestCase {
    func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

    func makeNetwork() throws -> SplitNetwork {
        var kernel = [Float](repeating: 0, count: 18)
        kernel[4] = 1   // output channel 0, centre tap
        let architecture = Architecture.vgg(VGGConfiguration(
            config: [.convolution(2)], batchNorm: false, pool: (1, 1), classifier: [], classes: 2, inputShape: [1, 2, 2]))
        let weights = InMemoryWeights([
            "features.0.weight": Tensor(shape: [2, 1, 3, 3], storage: kernel),
            "features.0.bias": Tensor(shape: [2], storage: [0, 0]),
            "classifier.0.weight": Tensor(shape: [2, 2], storage: [1, 0, 0, 0]),
            "classifier.0.bias": Tensor(shape: [2], storage: [0, 0]),
        ])
        return try Network(architecture: architecture, weights: weights).split(at: "features.1")
    }

    func testHandComputedScores() throws {
        let network = try makeNetwork()
        let x = Tensor(shape: [1, 2, 2], storage: [4, 0, 0, 0])        // mean = 1
        let saliency = Tensor(shape: [2, 2], storage: [1, 0.5, 0, 0])
        let scores = scoreExplanation(network: network, input: x, target: 0, saliency: saliency,
                                      box: BoundingBox(xMin: 0, yMin: 0, xMax: 1, yMax: 1))
        let high = sigmoid(1), low = 0.5
        XCTAssertEqual(scores.original, high, accuracy: 1e-6)          // Y
        XCTAssertEqual(scores.explanation, high, accuracy: 1e-6)       // O: e = s∘x keeps the 4
        XCTAssertEqual(scores.deletion, low, accuracy: 1e-6)           // D: (1−s)∘x removes it
        // 4 pixels, 40 steps: step i keeps ⌊i·4/40⌋ pixels, so the top pixel (the 4) arrives at i = 10.
        XCTAssertEqual(scores.insertionCurve.count, 41)
        for i in 0...40 {
            XCTAssertEqual(scores.insertionCurve[i], i < 10 ? low : high, accuracy: 1e-6, "insertion step \(i)")
            XCTAssertEqual(scores.deletionCurve[i], i < 10 ? high : low, accuracy: 1e-6, "deletion step \(i)")
        }
        let step = 0.025
        XCTAssertEqual(scores.insertionAUC, (9 * low + (low + high) / 2 + 30 * high) * step, accuracy: 1e-6)
        XCTAssertEqual(scores.deletionAUC, (9 * high + (low + high) / 2 + 30 * low) * step, accuracy: 1e-6)
        XCTAssertEqual(scores.energyPointingGame!, 100 * 1 / 1.5, accuracy: 1e-9)    // Eq 15

        let y = [high, 0.8], o = [high, 0.9], d = [low, 0.2]
        XCTAssertEqual(increaseInConfidence(original: y, explanation: o), 50)            // Eq 12: 0.8 < 0.9 only
        XCTAssertEqual(averageDrop(original: y, explanation: o), 0)                       // Eq 13
        XCTAssertEqual(averageDrop(original: [0.5, 0.8], explanation: [0.25, 0.9]), 25)    // (0.5 + 0)/2 × 100
        XCTAssertEqual(averageDropInDeletion(original: y, deletion: d),
                       ((high - low) / high + 0.75) / 2 * 100, accuracy: 1e-9)            // Eq 14
    }

    /// Equal saliencies keep row-major order; an all-zero map scores 0 in the pointing game; an
    /// empty box is "no box".
    func testTiesAndDegenerateMaps() throws {
        XCTAssertEqual(pixelsBySaliency(Tensor(shape: [2, 3], storage: [0.5, 1, 0.5, 0, 1, 0.5])), [1, 4, 0, 2, 5, 3])
        let flat = Tensor(shape: [2, 2])
        XCTAssertEqual(energyPointingGame(saliency: flat, box: BoundingBox(xMin: 0, yMin: 0, xMax: 2, yMax: 2)), 0)
        XCTAssertEqual(minMaxNormalized(Tensor(shape: [2, 2], repeating: 3)).storage, [0, 0, 0, 0])
        let network = try makeNetwork()
        let scores = scoreExplanation(network: network, input: Tensor(shape: [1, 2, 2], storage: [1, 2, 3, 4]),
                                      target: 0, saliency: flat, box: BoundingBox(xMin: 1, yMin: 1, xMax: 1, yMax: 2))
        XCTAssertNil(scores.energyPointingGame)
        XCTAssertEqual(cosineSimilarity([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        XCTAssertEqual(cosineSimilarity([1, 0], [0, 1]), 0, accuracy: 1e-12)
        XCTAssertEqual(areaUnderCurve([0, 1]), 0.5)
    }
}
