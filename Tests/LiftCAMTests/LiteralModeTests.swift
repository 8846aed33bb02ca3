import Foundation
import LiftCAM
import XCTest

/// Literal mode (`Explainer(…, literal: true)`, SPEC.md "Literal mode"): the same numbers as the
/// default fast paths, on the fixture networks, and really computed without them.
final class LiteralModeTests: PlatformTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The five fixture networks with the input and layer of their first reference case.
    func fixtureCases() throws -> [(name: String, network: Network, layer: String, input: Tensor)] {
        try ["tiny_vgg", "vgg_digits", "vgg_bn_parity", "resnet_digits", "resnet_bottleneck_parity"].map { name in
            let model = Self.fixtures.appendingPathComponent("models/\(name)")
            let reference = Self.fixtures.appendingPathComponent("reference/\(name)/case0")
            guard FileManager.default.fileExists(atPath: reference.path) else { throw XCTSkip("no Fixtures/reference/\(name)") }
            let info = try JSONValue.parse(try String(contentsOf: reference.appendingPathComponent("case.json"), encoding: .utf8))
            let network = try Network(architecture: try Architecture.load(path: model.appendingPathComponent("arch.json").path),
                                      weights: try WeightDirectory(path: model.appendingPathComponent("weights").path))
            return (name, network, try XCTUnwrap(info["layer"]?.stringValue),
                    try readNPY(path: reference.appendingPathComponent("input.npy").path))
        }
    }

    /// Every method, literal against default, for the predicted class: coefficients within 1e-4 of
    /// max |α| (`relativeError`; the two paths sum the same terms in other orders, with other
    /// kernels, so they differ by rounding only), L^c within 1e-4 of max L^c, and s(u(L^c)), which
    /// lies in [0, 1], within 1e-3 (the min-max stretch magnifies L's rounding where L's range is small).
    /// Score-CAM and the metrics (K and 85 whole forward passes on the naive kernels, seconds each on
    /// the larger nets) run on the two small VGGs; the ResNet forward pass they would use is checked
    /// bit for bit below.
    func testEveryMethodAgreesWithTheFastPaths() throws {
        let options = MethodOptions(orderings: 3, seed: 11)
        for c in try fixtureCases() {
            let fast = try Explainer(network: c.network, layer: c.layer, input: c.input)
            let literal = try Explainer(network: c.network, layer: c.layer, input: c.input, literal: true)
            XCTAssertLessThan(relativeError(literal.logits, fast.logits), 1e-4, "\(c.name) logits")
            XCTAssertLessThan(relativeError(literal.activations.storage, fast.activations.storage), 1e-4, "\(c.name) maps")
            let target = fast.predictedClass
            let affordsWholePasses = ["tiny_vgg", "vgg_bn_parity"].contains(c.name)
            for method in CAMMethod.allCases {
                if method == .shapExact && fast.activations.shape[0] > exactSHAPMaximumPlayers { continue }
                if method == .scorecam && !affordsWholePasses { continue }
                let a = try fast.explain(method, target: target, options: options)
                let b = try literal.explain(method, target: target, options: options)
                let label = "\(c.name) \(method.rawValue)"
                XCTAssertLessThan(relativeError(b.coefficients, a.coefficients), 1e-4, "\(label) α")
                XCTAssertLessThan(relativeError(b.map.storage, a.map.storage), 1e-4, "\(label) L^c")
                let worst = zip(b.saliency.storage, a.saliency.storage).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-3, "\(label) s(u(L^c))")
            }
            // The metrics' forward passes follow the Explainer's network.
            guard affordsWholePasses else { continue }
            let saliency = try fast.explain(.lift, target: target).saliency
            let scores = scoreExplanation(network: literal.network, input: c.input, target: target, saliency: saliency, box: nil)
            let reference = scoreExplanation(network: fast.network, input: c.input, target: target, saliency: saliency, box: nil)
            XCTAssertEqual(scores.explanation, reference.explanation, accuracy: 1e-4, "\(c.name) O^c")
        }
    }

    /// The literal forward pass is the naive kernels composed module by module, bit for bit (batch-
    /// norm unfolded, ReLUs separate), and the default one is not: a fast kernel anywhere in the
    /// literal path would change the bits, so this fails if literal mode takes any fast path.
    func testLiteralForwardPassIsTheNaiveKernelsBitForBit() throws {
        var fastDiffers = 0
        for c in try fixtureCases() {
            let literal = try Explainer(network: c.network, layer: c.layer, input: c.input, literal: true)
            let cut = c.network.modules.firstIndex { $0.name == c.layer }
                ?? c.network.modules.lastIndex { $0.name.hasPrefix(c.layer + ".") }!
            let maps = c.network.modules[...cut].reduce(c.input.batched) { naiveForward($1, $0) }
            let logits = c.network.modules[(cut + 1)...].reduce(maps) { naiveForward($1, $0) }
            assertBitwiseEqual(literal.activations.storage, maps.storage, "\(c.name) maps")
            assertBitwiseEqual(literal.logits, logits.storage, "\(c.name) logits")
            let fast = try Explainer(network: c.network, layer: c.layer, input: c.input)
            if zip(fast.logits, logits.storage).contains(where: { $0.bitPattern != $1.bitPattern }) { fastDiffers += 1 }
        }
        XCTAssertGreaterThan(fastDiffers, 0, "the fast path gave the naive bits on every network: this test could not tell them apart")
    }

    /// Every layer a literal Explainer runs (body, head, the head cut to a class) holds literal
    /// kernels, the body is the modules themselves (nothing folded or merged), and there is no head
    /// decomposition. The default Explainer fails the same audit.
    func testLiteralExplainerHoldsOnlyLiteralLayers() throws {
        for c in try fixtureCases() {
            let literal = try Explainer(network: c.network, layer: c.layer, input: c.input, literal: true)
            XCTAssertTrue(literal.isLiteral)
            XCTAssertNil(literal.headDecomposition, c.name)
            let head = targetHead(literal.network.head, target: 0)
            for part in [literal.network.body, literal.network.head, head] {
                XCTAssertEqual(nonLiteralLayers(part), [], "\(c.name) \(part.name)")
            }
            let bodyNames = literal.network.body.layers.map { $0.name }
            XCTAssertEqual(bodyNames, Array(c.network.modules.map { $0.name }.prefix(bodyNames.count)), c.name)
            let fast = try Explainer(network: c.network, layer: c.layer, input: c.input)
            XCTAssertNotEqual(nonLiteralLayers(fast.network.body), [], "\(c.name): the audit sees fast layers")
        }
    }

    /// Algorithm 1 literally: one mask per prefix, K + 1 head rows per ordering, evaluated ordering
    /// by ordering, null players included; the fast version evaluates fewer rows (it skips the
    /// steps of all-zero maps). In the Explainer, literal SHAP-CAM reports progress once per
    /// ordering (it never groups them).
    func testLiteralSHAPEvaluatesOneMaskPerPrefix() throws {
        var random = KernelTestRandom(seed: 0x11FE)
        let (k, orderingCount) = (6, 4)
        var maps = random.tensor([k, 3, 3])
        for j in 0 ..< 9 { maps.storage[2 * 9 + j] = 0 }     // map 2 is a null player
        let counter = RowCounter(name: "count")
        let head = Sequential(name: "head", layers: [counter, FlattenLayer(name: "flatten"),
                                                     LinearLayer(name: "fc", weight: random.tensor([1, k * 9]), bias: nil)])
        let game = MapGame(activations: maps, head: head, useShortcut: false)
        let orderings = randomOrderings(count: orderingCount, players: k, seed: 3)
        let literal = shapCAMCoefficientsOneMaskPerPrefix(game: game, orderings: orderings)
        XCTAssertEqual(counter.rows, orderingCount * (k + 1))
        XCTAssertEqual(counter.calls, orderingCount)
        counter.reset()
        let fast = shapCAMCoefficients(game: game, orderings: orderings)
        XCTAssertLessThan(counter.rows, orderingCount * (k + 1), "the fast path skips null players")
        XCTAssertLessThan(relativeError(literal, fast), 1e-5)

        let network = try fixtureCases()[0]
        let progress = RowCounter(name: "progress")
        let options = MethodOptions(orderings: 5, seed: 1, progress: { _, _ in progress.count(rows: 1) })
        _ = try Explainer(network: network.network, layer: network.layer, input: network.input, literal: true)
            .coefficients(.shap, target: 0, options: options)
        XCTAssertEqual(progress.calls, 5)
    }
}

/// The layers of `layer` (recursively) that are not on literal kernels, by name; a layer type the
/// audit does not know (such as a convolution with its ReLU merged in) counts as not literal.
private func nonLiteralLayers(_ layer: any Layer) -> [String] {
    switch layer {
    case let s as Sequential: return s.layers.flatMap(nonLiteralLayers)
    case let b as ResidualBlock:
        return (b.kernels == .literal ? [] : [b.name]) + nonLiteralLayers(b.branch)
            + (b.downsample.map(nonLiteralLayers) ?? []) + nonLiteralLayers(b.finalReLU)
    case let l as Conv2dLayer: return l.kernels == .literal ? [] : [l.name]
    case let l as LinearLayer: return l.kernels == .literal ? [] : [l.name]
    case let l as ChannelAffineLayer: return l.kernels == .literal ? [] : [l.name]
    case let l as ReLULayer: return l.kernels == .literal ? [] : [l.name]
    case let l as MaxPool2dLayer: return l.kernels == .literal ? [] : [l.name]
    case let l as AvgPool2dLayer: return l.kernels == .literal ? [] : [l.name]
    case let l as AdaptiveAvgPool2dLayer: return l.kernels == .literal ? [] : [l.name]
    case is FlattenLayer, is IdentityLayer: return []
    default: return [layer.name]
    }
}

/// A module's forward pass written with the naive kernels directly (the test's own composition).
private func naiveForward(_ layer: any Layer, _ x: Tensor) -> Tensor {
    switch layer {
    case let s as Sequential: return s.layers.reduce(x) { naiveForward($1, $0) }
    case let b as ResidualBlock:
        return reluNaive(addNaive(naiveForward(b.branch, x), b.downsample.map { naiveForward($0, x) } ?? x))
    case let l as Conv2dLayer: return conv2dNaive(x, weight: l.weight, bias: l.bias, shape: l.geometry)
    case let l as LinearLayer: return linearNaive(x, weight: l.weight, bias: l.bias)
    case let l as ChannelAffineLayer: return channelAffineNaive(x, scale: l.scale, shift: l.shift)
    case is ReLULayer: return reluNaive(x)
    case let l as MaxPool2dLayer: return maxPool2dNaive(x, shape: l.geometry).output
    case let l as AvgPool2dLayer: return avgPool2dNaive(x, shape: l.geometry)
    case let l as AdaptiveAvgPool2dLayer: return adaptiveAvgPool2dNaive(x, outputHeight: l.outputHeight, outputWidth: l.outputWidth)
    case is FlattenLayer: return x.reshaped([x.shape[0], x.count / x.shape[0]])
    default: return x
    }
}

/// The identity, counting the calls and the rows (batch items) that pass through it.
private final class RowCounter: Layer, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private(set) var rows = 0, calls = 0

    init(name: String) { self.name = name }

    func count(rows added: Int) {
        lock.lock()
        (rows, calls) = (rows + added, calls + 1)
        lock.unlock()
    }

    func reset() { (rows, calls) = (0, 0) }

    func using(_ kernels: KernelChoice) -> RowCounter { self }
    func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { inputShape }
    func forward(_ input: Tensor) -> Tensor {
        count(rows: input.shape[0])
        return input
    }
    func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor { outputMultipliers }
}
