import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// Parity with PyTorch, Captum and direct PyTorch transcriptions of each method, on the networks
/// and inputs of Fixtures/ (made by Fixtures/generate.py; see Fixtures/README.md). Logits,
/// activations, gradients, DeepLIFT contributions and coefficients agree to 1e-4 relative
/// (max |Δ| / max |reference|); maps likewise; the metrics' probabilities Y, O, D to 1e-4 absolute,
/// curve steps to 1e-2 and AUCs to 1e-3 (near-tied pixels may swap ranks), the pointing game to 0.01 %.
final class PyTorchParityTests: PlatformTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    typealias Case = ReferenceCase

    /// Every reference case, skipping the test when the fixtures are absent.
    func cases() throws -> [Case] { try referenceCases(in: Self.fixtures.appendingPathComponent("reference")) }

    func network(_ model: String) throws -> Network {
        let directory = Self.fixtures.appendingPathComponent("models").appendingPathComponent(model)
        return try Network(architecture: try Architecture.load(path: directory.appendingPathComponent("arch.json").path),
                           weights: try WeightDirectory(path: directory.appendingPathComponent("weights").path))
    }

    func load(_ c: Case, _ name: String) throws -> Tensor? { try c.load(name) }

    func assertClose(_ actual: [Float], _ expected: Tensor?, _ what: String, tolerance: Float = 1e-4,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let expected else { return }
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        guard actual.count == expected.count else { return }
        let error = relativeError(actual, expected.storage)
        XCTAssertLessThan(error, tolerance, "\(what): relative error \(error)", file: file, line: line)
    }

    func testEngineAndMethodsMatchPyTorch() throws {
        let methods: [(String, CAMMethod)] = [("lift", .lift), ("gradcam", .gradcam), ("gradcampp", .gradcampp),
                                              ("xgradcam", .xgradcam), ("ablation", .ablation), ("scorecam", .scorecam),
                                              ("shap_exact", .shapExact)]
        var checked = 0
        for c in try cases() {
            let network = try network(c.info["model"]?.stringValue ?? c.model)
            let input = try XCTUnwrap(try load(c, "input.npy"))
            let layer = try XCTUnwrap(c.info["layer"]?.stringValue)
            let target = try XCTUnwrap(c.info["target"]?.intValue)
            let label = "\(c.model)/\(c.directory.lastPathComponent)"
            let explainer = try Explainer(network: network, layer: layer, input: input)
            assertClose(explainer.logits, try load(c, "logits.npy"), "\(label) logits")
            assertClose(explainer.activations.storage, try load(c, "activations.npy"), "\(label) activations")
            let head = targetHead(explainer.network.head, target: target)
            assertClose(headGradient(head: head, activations: explainer.activations).storage,
                        try load(c, "gradient.npy"), "\(label) gradient")
            assertClose(deepLIFTContributions(head: head, activations: explainer.activations,
                                              reference: Tensor(shape: explainer.activations.shape)).storage,
                        try load(c, "lift_contributions.npy"), "\(label) DeepLIFT contributions (Captum)")
            for (name, method) in methods {
                guard let expected = try load(c, "coefficients_\(name).npy") else { continue }
                let explanation = try explainer.explain(method, target: target)
                assertClose(explanation.coefficients, expected, "\(label) α \(name)")
                assertClose(explanation.map.storage, try load(c, "cam_\(name).npy"), "\(label) L \(name)")
                if let saliency = try load(c, "saliency_\(name).npy") {
                    let error = zip(explanation.saliency.storage, saliency.storage).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(error, 1e-4, "\(label) s(u(L)) \(name)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10, "too few coefficient references were found")
    }

    /// Boxes of the fixture dataset by file name, from its manifest.csv.
    func manifestBoxes() throws -> [String: BoundingBox] {
        let path = Self.fixtures.appendingPathComponent("data/digits/manifest.csv").path
        var boxes: [String: BoundingBox] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 6, let x0 = Int(f[2]), let y0 = Int(f[3]), let x1 = Int(f[4]), let y1 = Int(f[5]) else { continue }
            boxes[f[0]] = BoundingBox(xMin: x0, yMin: y0, xMax: x1, yMax: y1)
        }
        return boxes
    }

    /// The metrics of the evaluation (Eqs 11–14, insertion/deletion, Eq 15) against PyTorch
    /// computations of the same definitions.
    func testMetricsMatchPyTorch() throws {
        var checked = 0
        for c in try cases() {
            let path = c.directory.appendingPathComponent("metrics.json").path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let metrics = try JSONValue.parse(try String(contentsOfFile: path, encoding: .utf8))
            let network = try network(c.info["model"]?.stringValue ?? c.model)
            let input = try XCTUnwrap(try load(c, "input.npy"))
            let explainer = try Explainer(network: network, layer: c.info["layer"]?.stringValue, input: input)
            let target = try XCTUnwrap(c.info["target"]?.intValue)
            let box = try c.info["image"]?.stringValue.flatMap { try manifestBoxes()[$0] }
            for (name, expected) in metrics.objectValue ?? [] {
                guard let method = CAMMethod(rawValue: name) else { continue }
                let explanation = try explainer.explain(method, target: target)
                let scores = scoreExplanation(network: explainer.network, input: input, target: target,
                                              saliency: explanation.saliency, box: box)
                let label = "\(c.model)/\(c.directory.lastPathComponent) \(name)"
                XCTAssertEqual(scores.original, expected["Y"]!.doubleValue!, accuracy: 1e-4, "\(label) Y")
                XCTAssertEqual(scores.explanation, expected["O"]!.doubleValue!, accuracy: 1e-4, "\(label) O")
                XCTAssertEqual(scores.deletion, expected["D"]!.doubleValue!, accuracy: 1e-4, "\(label) D")
                let insertion = expected["insertion_curve"]!.arrayValue!.map { $0.doubleValue! }
                let deletion = expected["deletion_curve"]!.arrayValue!.map { $0.doubleValue! }
                // A step of a curve can differ where two pixels' saliencies differ by a rounding error
                // and swap ranks between Float32 implementations: 1e-2 per step, 1e-3 for the areas.
                for i in insertion.indices {
                    XCTAssertEqual(scores.insertionCurve[i], insertion[i], accuracy: 1e-2, "\(label) insertion step \(i)")
                    XCTAssertEqual(scores.deletionCurve[i], deletion[i], accuracy: 1e-2, "\(label) deletion step \(i)")
                }
                XCTAssertEqual(scores.insertionAUC, expected["insertion_auc"]!.doubleValue!, accuracy: 1e-3, "\(label) insertion AUC")
                XCTAssertEqual(scores.deletionAUC, expected["deletion_auc"]!.doubleValue!, accuracy: 1e-3, "\(label) deletion AUC")
                if let game = expected["energy_pointing_game"]?.doubleValue {
                    XCTAssertEqual(scores.energyPointingGame ?? -1, game, accuracy: 1e-2, "\(label) pointing game (%)")
                }
                checked += 1
            }
        }
        if checked == 0 { throw XCTSkip("no metrics.json in the fixtures") }
    }
}

/// Section 4.2 on a trained network whose head is nonlinear and small enough for exact SHAP values
/// (Fixtures' tiny_vgg: K = 10 maps, max-pool, adaptive pool and two hidden layers): over the first
/// 20 images of the fixture dataset, LIFT-CAM's coefficients are closer in cosine to the exact SHAP
/// values (Eq 6) than Grad-CAM's and Grad-CAM++'s, on average and on most images.
final class LiftApproximatesSHAPTests: PlatformTestCase {
    func testLiftIsClosestToExactSHAPOnATrainedNonlinearHead() throws {
        let fixtures = PyTorchParityTests.fixtures
        let model = fixtures.appendingPathComponent("models/tiny_vgg")
        guard FileManager.default.fileExists(atPath: model.path) else { throw XCTSkip("no Fixtures/models/tiny_vgg") }
        let network = try Network(architecture: try Architecture.load(path: model.appendingPathComponent("arch.json").path),
                                  weights: try WeightDirectory(path: model.appendingPathComponent("weights").path))
        let manifest = try String(contentsOfFile: fixtures.appendingPathComponent("data/digits/manifest.csv").path, encoding: .utf8)
        let files = manifest.split(separator: "\n").dropFirst().prefix(20).map { String($0.split(separator: ",")[0]) }
        var sums: [CAMMethod: Double] = [:], wins = 0
        for file in files {
            let pixels = try readNPYOrImage(fixtures.appendingPathComponent("data/digits/\(file)").path)
            let explainer = try Explainer(network: network, input: pixels)
            let target = explainer.predictedClass
            let exact = try explainer.coefficients(.shapExact, target: target)
            var cosines: [CAMMethod: Double] = [:]
            for method in [CAMMethod.lift, .gradcam, .gradcampp] {
                cosines[method] = cosineSimilarity(try explainer.coefficients(method, target: target), exact)
                sums[method, default: 0] += cosines[method]!
            }
            if cosines[.lift]! > max(cosines[.gradcam]!, cosines[.gradcampp]!) { wins += 1 }
        }
        let means = sums.mapValues { $0 / Double(files.count) }
        print("tiny_vgg, 20 images: mean cosine to exact SHAP: lift \(means[.lift]!), gradcam \(means[.gradcam]!), gradcampp \(means[.gradcampp]!); lift closest on \(wins)")
        XCTAssertGreaterThan(means[.lift]!, means[.gradcam]!, "mean cosines \(means)")
        XCTAssertGreaterThan(means[.lift]!, means[.gradcampp]!, "mean cosines \(means)")
        XCTAssertGreaterThan(wins, files.count / 2, "LIFT-CAM closest on \(wins) of \(files.count) images; means \(means)")
    }

    /// A 64×64 RGB fixture PNG as the network input: (p/255 − mean)/std with ImageNet's statistics,
    /// as Fixtures/generate.py trained it.
    func readNPYOrImage(_ path: String) throws -> Tensor {
        let image = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).rgb()
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let plane = image.width * image.height
        var x = Tensor(shape: [3, image.height, image.width])
        for p in 0..<plane {
            for c in 0..<3 { x.storage[c * plane + p] = (Float(image.pixels[p * 3 + c]) / 255 - mean[c]) / std[c] }
        }
        return x
    }
}

/// One reference case of the fixtures: `<reference>/<model>/case<i>/` with its case.json.
struct ReferenceCase {
    let model: String
    let directory: URL
    let info: JSONValue

    /// The case's file `name` (an .npy), or nil when the case has none.
    func load(_ name: String) throws -> Tensor? {
        let path = directory.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? try readNPY(path: path) : nil
    }
}

/// Every case under `reference` (one folder per model, `case*` folders inside), sorted; the test is
/// skipped when the folder is absent.
func referenceCases(in reference: URL) throws -> [ReferenceCase] {
    guard let models = try? FileManager.default.contentsOfDirectory(atPath: reference.path), !models.isEmpty else {
        throw XCTSkip("no \(reference.path) (run the fixture generators, Fixtures/README.md)")
    }
    var result: [ReferenceCase] = []
    for model in models.sorted() {
        let modelDirectory = reference.appendingPathComponent(model)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: modelDirectory.path)) ?? []
        for name in names.sorted() where name.hasPrefix("case") {
            let directory = modelDirectory.appendingPathComponent(name)
            let text = try String(contentsOf: directory.appendingPathComponent("case.json"), encoding: .utf8)
            result.append(ReferenceCase(model: model, directory: directory, info: try JSONValue.parse(text)))
        }
    }
    return result
}
