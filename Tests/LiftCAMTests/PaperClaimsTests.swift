import LiftCAM
import XCTest

/// The paper's claims about LIFT-CAM and SHAP values, as assertions.
final class PaperClaimsTests: PlatformTestCase {
    /// Eq 8: Σ_k α_k^lift = F^c(A) − F^c(0), on nonlinear heads: VGG's (max-pool, adaptive pool,
    /// ReLU, linear), a VGG split early with batch-norm, convolutions and max-pools in the head, and a
    /// ResNet split at layer2 whose head holds residual blocks. Tolerance 1e-5 relative to the larger
    /// of |F^c(A)| and |F^c(0)|.
    func testSummationToDeltaOnNonlinearHeads() throws {
        let cases: [(Network, String?)] = [
            (try TestNetworks.vgg(), nil), (try TestNetworks.vgg(batchNorm: true), "features.3"),
            (try TestNetworks.vgg(batchNorm: true, seed: 5), "features.2"),
            (try TestNetworks.resnet(), "layer2"), (try TestNetworks.resnet(block: .bottleneck), "layer3"),
        ]
        for (index, (network, layer)) in cases.enumerated() {
            let x = TestNetworks.input(network.architecture.inputShape, seed: UInt64(10 + index))
            let explainer = try Explainer(network: network, layer: layer, input: x)
            for target in 0..<explainer.logits.count {
                let head = targetHead(explainer.network.head, target: target)
                let alpha = liftCAMCoefficients(head: head, activations: explainer.activations)
                let atA = head.forward(explainer.activations.batched).storage[0]
                let atZero = head.forward(Tensor(shape: [1] + explainer.activations.shape)).storage[0]
                let sum = alpha.reduce(0, +)
                let scale = max(abs(atA), abs(atZero), 1e-6)
                XCTAssertEqual(atA, explainer.logits[target], accuracy: 1e-5 * scale)
                XCTAssertLessThan(abs(sum - (atA - atZero)) / scale, 1e-5,
                                  "case \(index) class \(target): Σα = \(sum), ΔF = \(atA - atZero)")
            }
        }
    }

    /// Section 3.4, rationale 2: on a linear head (average pool + fc) DeepLIFT is exact, and
    /// α^lift = α^sh (Eq 6, enumerated) = α^xg (Eq 10) = α^ab (Eq 9); Algorithm 1 gives the same with
    /// any number of orderings, since every ordering credits a map with the same marginal change.
    func testLinearHeadMethodsAllEqualExactSHAP() throws {
        for width in [1, 2] {
            let network = try TestNetworks.resnet(width: width, seed: UInt64(20 + width))
            let explainer = try Explainer(network: network, input: TestNetworks.input([3, 40, 36], seed: 7))
            XCTAssertEqual(explainer.activations.shape[0], 8 * width)
            for target in [0, 3, 5] {
                let exact = try explainer.coefficients(.shapExact, target: target)
                for method in [CAMMethod.lift, .xgradcam, .ablation] {
                    let alpha = try explainer.coefficients(method, target: target)
                    XCTAssertLessThan(relativeError(alpha, exact), 1e-5, "\(method) vs exact SHAP, class \(target)")
                }
                for orderings in [1, 3, 17] {
                    let alpha = try explainer.coefficients(.shap, target: target,
                                                           options: MethodOptions(orderings: orderings, seed: 9))
                    XCTAssertLessThan(relativeError(alpha, exact), 1e-5, "SHAP-CAM_\(orderings), class \(target)")
                }
            }
        }
    }

    /// On a nonlinear head with K ≤ 12 maps: Algorithm 1 is locally accurate for every |Π|
    /// (Σα = F^c(A) − F^c(0), footnote 3), its error to the exact values falls as |Π| grows, and at
    /// |Π| = 2000 its cosine similarity to them exceeds 0.999.
    func testSHAPCAMConvergesToExactSHAPOnNonlinearHead() throws {
        let network = try TestNetworks.vgg(lastWidth: 10, seed: 3)
        let explainer = try Explainer(network: network, input: TestNetworks.input([3, 26, 22], seed: 4))
        XCTAssertEqual(explainer.activations.shape[0], 10)
        let target = explainer.predictedClass
        let exact = try explainer.coefficients(.shapExact, target: target)
        let head = targetHead(explainer.network.head, target: target)
        let delta = head.forward(explainer.activations.batched).storage[0]
            - head.forward(Tensor(shape: [1] + explainer.activations.shape)).storage[0]
        XCTAssertEqual(exact.reduce(0, +), delta, accuracy: 1e-5 * max(abs(delta), 1))
        var errors: [Float] = []
        for orderings in [1, 10, 100, 2000] {
            let alpha = try explainer.coefficients(.shap, target: target, options: MethodOptions(orderings: orderings, seed: 11))
            XCTAssertEqual(alpha.reduce(0, +), delta, accuracy: 1e-4 * max(abs(delta), 1), "local accuracy, |Π| = \(orderings)")
            errors.append(relativeError(alpha, exact))
            if orderings == 2000 { XCTAssertGreaterThan(cosineSimilarity(alpha, exact), 0.999) }
        }
        XCTAssertLessThan(errors[3], errors[0], "errors by |Π|: \(errors)")
        XCTAssertLessThan(errors[3], errors[1], "errors by |Π|: \(errors)")
    }

    /// Eq 3 on a game whose Shapley values are known in closed form: the three-player glove game
    /// (player 0 holds a left glove, players 1 and 2 right gloves; a pair is worth 1) has
    /// φ = (2/3, 1/6, 1/6).
    func testShapleyValuesOfTheGloveGame() {
        let values: [Double] = (0..<8).map { mask in
            (mask & 1 != 0 && mask & 6 != 0) ? 1 : 0
        }
        let phi = shapleyValues(players: 3, values: values)
        XCTAssertEqual(phi[0], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(phi[1], 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(phi[2], 1.0 / 6, accuracy: 1e-12)
    }

    /// The batched shortcut of the map game (pooling once, one pre-activation term per map) equals
    /// the generic path that zeroes maps and runs the whole head, on random coalitions.
    func testMapGameShortcutMatchesGenericPath() throws {
        for (network, layer) in [(try TestNetworks.vgg(), nil as String?), (try TestNetworks.resnet(), "layer4")] {
            let explainer = try Explainer(network: network, layer: layer,
                                          input: TestNetworks.input(network.architecture.inputShape, seed: 3))
            let head = targetHead(explainer.network.head, target: 1)
            let fast = MapGame(activations: explainer.activations, head: head)
            let generic = MapGame(activations: explainer.activations, head: head, useShortcut: false)
            let k = fast.playerCount
            var generator = SplitMix64(seed: 5)
            var masks = Tensor(shape: [40, k])
            for i in 0..<masks.count { masks.storage[i] = generator.next() % 2 == 0 ? 1 : 0 }
            XCTAssertLessThan(relativeError(fast.values(masks: masks), generic.values(masks: masks)), 1e-5)
            let ordering = randomOrderings(count: 1, players: k, seed: 8)[0]
            XCTAssertLessThan(relativeError(fast.valuesAlong(ordering: ordering), generic.valuesAlong(ordering: ordering)), 1e-5)
        }
    }
}
