import Foundation
import LiftCAM
import XCTest

/// ONNX models of eight families (reduced-width torchvision networks, Fixtures/onnx, made by
/// Fixtures/onnx/generate_onnx_fixtures.py) against PyTorch and ONNX Runtime: logits, activations at
/// the split, ∂F^c/∂A, the DeepLIFT contributions (our rules, transcribed in PyTorch: Rescale for
/// every nonlinearity, the Shapley split for products) and every method's α, at the default layer
/// and at an earlier one whose head holds squeeze-and-excitation, channel shuffles or concatenations.
/// Tolerance 1e-4 relative (max |Δ| / max |reference|), as PyTorchParityTests.
final class ONNXParityTests: PlatformTestCase {
    static let root = PyTorchParityTests.fixtures.appendingPathComponent("onnx")

    typealias Case = ReferenceCase

    func cases() throws -> [Case] { try referenceCases(in: Self.root.appendingPathComponent("reference")) }

    func load(_ c: Case, _ name: String) throws -> Tensor? { try c.load(name) }

    /// max |Δ| / max(max |reference|, `floor`) < `tolerance`.
    func assertClose(_ actual: [Float], _ expected: Tensor?, _ what: String, tolerance: Float = 1e-4, floor: Float = 0,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let expected else { return XCTFail("\(what): no reference", file: file, line: line) }
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        guard actual.count == expected.count else { return }
        let scale = max(expected.storage.map(abs).max() ?? 0, floor, 1e-12)
        let error = zip(actual, expected.storage).map { abs($0 - $1) }.max()! / scale
        XCTAssertLessThan(error, tolerance, "\(what): relative error \(error)", file: file, line: line)
    }

    func testEveryFamilyMatchesPyTorchAndONNXRuntime() throws {
        let methods: [(String, CAMMethod)] = [("lift", .lift), ("gradcam", .gradcam), ("gradcampp", .gradcampp),
                                              ("xgradcam", .xgradcam), ("ablation", .ablation), ("scorecam", .scorecam),
                                              ("shap_exact", .shapExact)]
        var networks: [String: Network] = [:]
        var checked = 0, families = Set<String>()
        for c in try cases() {
            let modelName = c.info["model"]?.stringValue ?? c.model
            let path = Self.root.appendingPathComponent("models/\(modelName).onnx").path
            let network = try networks[modelName] ?? Network(graph: try GraphModel(onnxPath: path))
            networks[modelName] = network
            let input = try XCTUnwrap(try load(c, "input.npy"))
            let layer = try XCTUnwrap(c.info["layer"]?.stringValue)
            let target = try XCTUnwrap(c.info["target"]?.intValue)
            let label = "\(c.model)/\(c.directory.lastPathComponent)"
            if c.directory.lastPathComponent == "case0" {
                XCTAssertEqual(network.architecture.defaultLayer, layer, "\(label): the default layer")
            }
            let explainer = try Explainer(network: network, layer: layer, input: input)
            assertClose(explainer.logits, try load(c, "logits.npy"), "\(label) logits (PyTorch)")
            assertClose(explainer.logits, try load(c, "logits_ort.npy"), "\(label) logits (ONNX Runtime)")
            assertClose(network.forward(input.batched).storage, try load(c, "logits_ort.npy"), "\(label) whole-network forward")
            assertClose(explainer.activations.storage, try load(c, "activations.npy"), "\(label) activations")
            let head = targetHead(explainer.network.head, target: target)
            assertClose(headGradient(head: head, activations: explainer.activations).storage,
                        try load(c, "gradient.npy"), "\(label) gradient")
            assertClose(deepLIFTContributions(head: head, activations: explainer.activations,
                                              reference: Tensor(shape: explainer.activations.shape)).storage,
                        try load(c, "lift_contributions.npy"), "\(label) DeepLIFT contributions")
            for (name, method) in methods {
                guard let expected = try load(c, "coefficients_\(name).npy") else { continue }
                let explanation = try explainer.explain(method, target: target)
                // Ablation's α are differences of two logits, each known in Float32 to about 1e-7 of
                // its size: where every α is tiny next to the logits (efficientnet case1: max |α| =
                // 3e-4, |F| = 0.15), that rounding is the floor.
                assertClose(explanation.coefficients, expected, "\(label) α \(name)",
                            floor: method == .ablation ? 1e-2 * (explainer.logits.map(abs).max() ?? 0) : 0)
                assertClose(explanation.map.storage, try load(c, "cam_\(name).npy"), "\(label) L \(name)")
                checked += 1
            }
            families.insert(modelName)
        }
        XCTAssertGreaterThanOrEqual(families.count, 10, "families checked: \(families.sorted())")
        XCTAssertGreaterThan(checked, 100, "too few coefficient references were found")
    }

    /// Section 3.4 per family: where the head after the default layer is a sum of one term per map
    /// (linear, or DenseNet's ReLU on each map before pooling), the map game is additive, its SHAP
    /// values are those terms, and LIFT-CAM equals them; so does Ablation-CAM, which is the term
    /// itself there. Where the head mixes maps before a nonlinearity (MobileNetV3, SqueezeNet, VGG)
    /// the two differ.
    func testLiftIsExactWhereTheHeadIsAdditive() throws {
        let additive: Set<String> = ["mobilenet_v2", "efficientnet_b0", "shufflenet_v2", "shufflenet_v2_k12", "densenet", "regnet_y", "resnet"]
        var seen = Set<String>()
        for c in try cases() where c.directory.lastPathComponent == "case0" {
            let modelName = c.info["model"]?.stringValue ?? c.model
            let network = Network(graph: try GraphModel(onnxPath: Self.root.appendingPathComponent("models/\(modelName).onnx").path))
            let explainer = try Explainer(network: network, input: try XCTUnwrap(try load(c, "input.npy")))
            let target = try XCTUnwrap(c.info["target"]?.intValue)
            let lift = try explainer.coefficients(.lift, target: target)
            let ablation = try explainer.coefficients(.ablation, target: target)
            let floor = 1e-2 * (explainer.logits.map(abs).max() ?? 0)
            let difference = zip(lift, ablation).map { abs($0 - $1) }.max()! / max(ablation.map(abs).max()!, floor)
            if additive.contains(modelName) {
                XCTAssertLessThan(difference, 1e-4, "\(modelName): LIFT-CAM should equal the per-map terms")
            } else {
                XCTAssertGreaterThan(difference, 1e-3, "\(modelName): a head that mixes maps before a nonlinearity")
            }
            seen.insert(modelName)
        }
        XCTAssertEqual(seen.count, 11)
    }
}
