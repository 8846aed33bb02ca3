import LiftCAM
import XCTest

/// docs/worked-example.md, number by number, through the library's own functions: two 1×1 maps
/// A = (2, 1) and the head Flatten → Linear(W1, b1) → ReLU → Linear(w2, b2). Every number the page
/// works out by hand is asserted here, so the page and the code cannot disagree.
final class WorkedExampleTests: PlatformTestCase {
    private let tolerance = 1e-6
    private let maps = Tensor(shape: [2, 1, 1], storage: [2, 1])

    /// The head of the page; without the ReLU it is the linear variant.
    private func head(withReLU: Bool = true) -> Sequential {
        var layers: [any Layer] = [
            FlattenLayer(name: "flatten"),
            LinearLayer(name: "fc1", weight: Tensor(shape: [2, 2], storage: [1, -1, 1, 1]), bias: Tensor(shape: [2], storage: [0, -2])),
        ]
        if withReLU { layers.append(ReLULayer(name: "relu")) }
        layers.append(LinearLayer(name: "fc2", weight: Tensor(shape: [1, 2], storage: [1, 1]), bias: Tensor(shape: [1], storage: [0])))
        return Sequential(name: "head", layers: layers)
    }

    /// F at the maps (a, b).
    private func value(_ head: Sequential, _ a: Float, _ b: Float) -> Float {
        head.forward(Tensor(shape: [1, 2, 1, 1], storage: [a, b])).storage[0]
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        for (a, e) in zip(actual, expected) {
            XCTAssertEqual(Double(a), e, accuracy: tolerance, "\(what): \(actual) against \(expected)", file: file, line: line)
        }
    }

    /// Step 1: the forward pass at A and at the reference 0.
    func testForwardValuesAtTheMapsAndAtTheReference() {
        let head = head()
        let atMaps = head.forwardTrace(maps.batched), atReference = head.forwardTrace(Tensor(shape: [1, 2, 1, 1]))
        // parts: flatten, fc1, relu, fc2; z is fc1's output.
        assertClose(atMaps.parts[1].output.storage, [1, 1], "z(A)")
        assertClose(atReference.parts[1].output.storage, [0, -2], "z(0)")
        assertClose(atMaps.output.storage, [2], "F(A)")
        assertClose(atReference.output.storage, [0], "F(0)")
    }

    /// Steps 2–4: the Rescale multipliers of the ReLU units, the multipliers at A, and α^lift (Eq 7).
    func testRescaleMultipliersAndLiftCoefficients() {
        let head = head()
        let atMaps = head.forwardTrace(maps.batched), atReference = head.forwardTrace(Tensor(shape: [1, 2, 1, 1]))
        // The ReLU's backward pass alone, given fc2's multipliers w2 = (1, 1): m = Δy/Δx per unit.
        let relu = head.layers[2]
        let unitMultipliers = relu.backward(Tensor(shape: [1, 2], storage: [1, 1]), trace: atMaps.parts[2], reference: atReference.parts[2])
        assertClose(unitMultipliers.storage, [1, 1.0 / 3], "Rescale multipliers of the ReLU units")
        // The whole head: W1ᵀ m at A.
        let multipliers = head.backward(Tensor(shape: [1, 1], repeating: 1), trace: atMaps, reference: atReference)
        assertClose(multipliers.storage, [4.0 / 3, -2.0 / 3], "multipliers at A")
        // Contributions m ⊙ (A − 0), and their per-map sums, Eq 7.
        let contributions = deepLIFTContributions(head: head, activations: maps, reference: Tensor(shape: [2, 1, 1]))
        assertClose(contributions.storage, [8.0 / 3, -2.0 / 3], "contributions")
        let lift = liftCAMCoefficients(head: head, activations: maps)
        assertClose(lift, [8.0 / 3, -2.0 / 3], "α^lift, literal")
        // The fast path the Explainer takes gives the same numbers.
        let fast = HeadDecomposition(head: head, activations: maps)!.targeted(0).liftCoefficients()
        assertClose(fast, [8.0 / 3, -2.0 / 3], "α^lift, HeadDecomposition")
        // Eq 8: they add up to F(A) − F(0) = 2.
        XCTAssertEqual(Double(lift.reduce(0, +)), 2, accuracy: tolerance)
    }

    /// Steps 5–6: the four coalitions, exact SHAP (Eq 3, Eq 6), and the additive model (Eq 2).
    func testCoalitionsAndExactSHAP() throws {
        let head = head()
        // Mask bit k set = map k present (the first map is bit 0): ∅, {1}, {2}, {1, 2}.
        let expected: [Double] = [0, 2, 0, 2]
        for useShortcut in [true, false] {
            let game = MapGame(activations: maps, head: head, useShortcut: useShortcut)
            let values = game.values(masks: Tensor(shape: [4, 2], storage: [0, 0, 1, 0, 0, 1, 1, 1]))
            assertClose(values, expected, "v on the coalitions, shortcut \(useShortcut)")
            assertClose(try exactSHAPCoefficients(game: game), [2, 0], "exact SHAP, shortcut \(useShortcut)")
        }
        XCTAssertEqual(Double(value(head, 2, 0)), 2, accuracy: tolerance)   // F(2, 0)
        XCTAssertEqual(Double(value(head, 0, 1)), 0, accuracy: tolerance)   // F(0, 1)
        let shap = shapleyValues(players: 2, values: expected)
        assertClose(shap.map(Float.init), [2, 0], "Eq 3 on the table of values")
        // This game is additive (v({1,2}) = v({1}) + v({2})), so the additive model g with φ_0 = v(∅)
        // and φ = SHAP reproduces every coalition; with φ = α^lift it reproduces only the full one.
        let lift = liftCAMCoefficients(head: head, activations: maps).map(Double.init)
        for mask in 0 ..< 4 {
            let presence = [mask & 1 != 0, mask & 2 != 0]
            XCTAssertEqual(additiveExplanation(baseline: expected[0], attributions: shap, presence: presence),
                           expected[mask], accuracy: tolerance, "g with SHAP at \(presence)")
        }
        XCTAssertEqual(additiveExplanation(baseline: 0, attributions: lift, presence: [true, true]), 2, accuracy: tolerance)
        XCTAssertEqual(additiveExplanation(baseline: 0, attributions: lift, presence: [true, false]), 8.0 / 3, accuracy: tolerance)
    }

    /// The linear variant (no ReLU): F = 2·A₁ + 0·A₂ − 2, and LIFT = SHAP = (4, 0) exactly.
    func testLinearHeadGivesSHAPExactly() throws {
        let head = head(withReLU: false)
        assertClose([value(head, 2, 1), value(head, 0, 0)], [2, -2], "F(A), F(0)")
        let lift = liftCAMCoefficients(head: head, activations: maps)
        let shap = try exactSHAPCoefficients(game: MapGame(activations: maps, head: head, useShortcut: false))
        assertClose(lift, [4, 0], "α^lift")
        assertClose(shap, [4, 0], "exact SHAP")
        assertClose(HeadDecomposition(head: head, activations: maps)!.targeted(0).liftCoefficients(), [4, 0], "α^lift, fast")
        // Eq 2 on every coalition: a linear head's game is additive, with φ_0 = F(0).
        for mask in 0 ..< 4 {
            let presence = [mask & 1 != 0, mask & 2 != 0]
            let v = value(head, presence[0] ? 2 : 0, presence[1] ? 1 : 0)
            XCTAssertEqual(additiveExplanation(baseline: -2, attributions: shap.map(Double.init), presence: presence),
                           Double(v), accuracy: tolerance, "g at \(presence)")
        }
    }

    /// The same head as the classifier of a one-layer VGG (a 3×3 convolution on a 1×1 input, whose
    /// centre taps make A = (2, 1)), explained the way a user would: `Explainer.explain`.
    func testExplainerGivesTheSameNumbers() throws {
        let architecture = Architecture.vgg(VGGConfiguration(
            config: [.convolution(2)], batchNorm: false, pool: (1, 1), classifier: [2], classes: 1, inputShape: [3, 1, 1]))
        var convolution = [Float](repeating: 0, count: 2 * 3 * 3 * 3)
        convolution[0 * 27 + 0 * 9 + 4] = 1   // map 1 = x₀ (centre tap of input channel 0)
        convolution[1 * 27 + 1 * 9 + 4] = 1   // map 2 = x₁
        let weights = InMemoryWeights([
            "features.0.weight": Tensor(shape: [2, 3, 3, 3], storage: convolution),
            "features.0.bias": Tensor(shape: [2], storage: [0, 0]),
            "classifier.0.weight": Tensor(shape: [2, 2], storage: [1, -1, 1, 1]),
            "classifier.0.bias": Tensor(shape: [2], storage: [0, -2]),
            "classifier.3.weight": Tensor(shape: [1, 2], storage: [1, 1]),
            "classifier.3.bias": Tensor(shape: [1], storage: [0]),
        ])
        let network = try Network(architecture: architecture, weights: weights)
        let explainer = try Explainer(network: network, input: Tensor(shape: [3, 1, 1], storage: [2, 1, 0]))
        assertClose(explainer.activations.storage, [2, 1], "A")
        assertClose(explainer.logits, [2], "F(A)")
        assertClose(try explainer.explain(.lift, target: 0).coefficients, [8.0 / 3, -2.0 / 3], "Explainer, lift")
        assertClose(try explainer.explain(.shapExact, target: 0).coefficients, [2, 0], "Explainer, shap-exact")
    }
}
