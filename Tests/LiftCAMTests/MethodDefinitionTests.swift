import LiftCAM
import XCTest

/// The per-method formulas on values small enough to check by hand, and the identities that tie the
/// methods together (Section 3.5).
final class MethodDefinitionTests: PlatformTestCase {
    /// Two 1×2 maps with hand-picked gradients.
    let maps = Tensor(shape: [2, 1, 2], storage: [1, 3, 2, 0])
    let gradient = Tensor(shape: [2, 1, 2], storage: [0.5, -1, 0, 2])

    func testGradientFormulasByHand() {
        XCTAssertEqual(gradCAMCoefficients(gradient: gradient), [-0.25, 1])                   // means
        XCTAssertEqual(xGradCAMCoefficients(activations: maps, gradient: gradient), [-2.5, 0]) // Σ A·g
        XCTAssertEqual(xGradCAMCoefficients(activations: maps, gradient: gradient, normalized: true), [-0.625, 0])
        // Grad-CAM++: map 0 (ΣA = 4): g = 0.5 → a = 0.25 / (0.5 + 4·0.125) = 0.25, times relu(g) = 0.125;
        // g = −1 → relu(g) = 0. Map 1 (ΣA = 2): g = 0 → 0; g = 2 → a = 4 / (8 + 2·8) = 1/6, times 2.
        let plusPlus = gradCAMPlusPlusCoefficients(activations: maps, gradient: gradient)
        XCTAssertEqual(plusPlus[0], 0.125, accuracy: 1e-7)
        XCTAssertEqual(plusPlus[1], 1.0 / 3, accuracy: 1e-7)
        // Eq 1: ReLU(−0.25·[1, 3] + 1·[2, 0]) = [1.75, 0].
        XCTAssertEqual(classActivationMap(activations: maps, coefficients: [-0.25, 1]).storage, [1.75, 0])
    }

    /// For a ReLU network without biases, LRP-ε equals input × gradient, i.e. XGrad-CAM (Section 3.5,
    /// after Ancona et al. 2018) — on a VGG head with max-pool, adaptive pool and two hidden layers.
    func testLRPEqualsInputTimesGradientWithoutBiases() throws {
        struct NoBiases: WeightSource {
            let inner = RandomWeights(seed: 4)
            func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor {
                key.hasSuffix(".bias") ? Tensor(shape: shape) : try inner.tensor(key, shape: shape)
            }
            func unusedKeys(requested: Set<String>) -> [String] { [] }
        }
        let architecture = Architecture.vgg(VGGConfiguration(
            config: [.convolution(6), .maxPool, .convolution(8), .maxPool, .convolution(12)],
            batchNorm: false, pool: (3, 3), classifier: [24, 16], classes: 5, inputShape: [3, 26, 22]))
        let network = try Network(architecture: architecture, weights: NoBiases())
        let explainer = try Explainer(network: network, input: TestNetworks.input([3, 26, 22], seed: 2))
        for target in 0..<5 {
            let lrp = try explainer.coefficients(.lrp, target: target)
            let xgrad = try explainer.coefficients(.xgradcam, target: target)
            XCTAssertLessThan(relativeError(lrp, xgrad), 1e-4, "class \(target)")
        }
    }

    /// On a linear game (ResNet head) the weighted least-squares fit LIME makes is exact: without
    /// regularisation it recovers the per-map slopes, which are the exact SHAP values.
    func testLIMERecoversALinearGame() throws {
        let explainer = try Explainer(network: try TestNetworks.resnet(), input: TestNetworks.input([3, 40, 36], seed: 6))
        let head = targetHead(explainer.network.head, target: 2)
        let game = MapGame(activations: explainer.activations, head: head)
        let exact = try exactSHAPCoefficients(game: game)
        let fitted = limeCAMCoefficients(game: game, samples: 200, seed: 3, lassoAlpha: 0)
        XCTAssertLessThan(relativeError(fitted, exact), 1e-3)
        // The L1 penalty shrinks: every fitted slope moves toward 0 and none changes sign.
        let shrunk = limeCAMCoefficients(game: game, samples: 200, seed: 3, lassoAlpha: 0.01)
        for (s, e) in zip(shrunk, exact) { XCTAssertLessThanOrEqual(abs(s), abs(e) + 1e-4); XCTAssertGreaterThanOrEqual(s * e, -1e-8) }
    }
}
