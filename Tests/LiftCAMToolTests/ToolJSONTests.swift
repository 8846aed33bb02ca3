import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// `liftcam forward` and `liftcam explain --json` end to end on a tiny random network on disk,
/// against the library called directly on the same tensor.
final class ToolJSONTests: PlatformTestCase {
    var directory = ""
    var model: TinyModel!
    var input = Tensor(shape: [3, 12, 12])
    var npyPath = ""

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
        model = try TinyModel(in: directory)
        var generator = SplitMix64(seed: 5)
        input = Tensor(shape: [3, 12, 12], storage: (0..<432).map { _ in Float(generator.next() >> 40) / Float(1 << 23) - 1 })
        npyPath = directory + "/x.npy"
        try writeNPY(input, path: npyPath)
    }

    override func tearDown() { removeTemporaryDirectory(directory) }

    /// forward on a .npy prints exactly Network.forward of the same tensor (Float shortest digits
    /// read back exactly), for both [3, H, W] and [1, 3, H, W] files.
    func testForwardOfNPYEqualsNetworkForward() throws {
        let expected = model.network.forward(input.batched).storage
        try writeNPY(input.batched, path: directory + "/x4.npy")
        for file in [npyPath, directory + "/x4.npy"] {
            let run = runTool(["forward"] + model.arguments + ["--input", file])
            XCTAssertEqual(run.status, 0, run.error)
            let logits = try JSONValue.parse(run.output)["logits"]?.floatArrayValue
            XCTAssertEqual(logits, expected, file)
        }
    }

    /// forward on a PNG at the network's size: the tool's preprocessing equals x = (p/255 − mean)/std
    /// written out in the test, so the logits agree to 1e-5 relative (Float rounding of the
    /// normalisation is the only possible difference).
    func testForwardOfPNGEqualsNetworkForwardOfNormalisedPixels() throws {
        let picture = try testPicture(width: 12, height: 12, seed: 9)
        let pngPath = directory + "/picture.png"
        try writeFileAtomically(pngPath, bytes: PNG.encode(picture))
        let expected = model.network.forward(expectedInput(of: picture, normalize: true).batched).storage
        let run = runTool(["forward"] + model.arguments + ["--input", pngPath])
        XCTAssertEqual(run.status, 0, run.error)
        let logits = try XCTUnwrap(try JSONValue.parse(run.output)["logits"]?.floatArrayValue)
        XCTAssertLessThanOrEqual(relativeDifference(logits, expected), 1e-5)
    }

    /// explain --json -: the contract's keys and nothing else; α equal to Explainer.coefficients
    /// exactly for every method (shap and lime with the same seed and orderings); the cam equal to
    /// Eq 1 computed naively in Double (1e-5 relative); logits and activation shape.
    func testExplainJSONMatchesTheLibrary() throws {
        let run = runTool(["explain"] + model.arguments + ["--input", npyPath, "--method", "all",
                                                           "--orderings", "30", "--seed", "7", "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        let json = try JSONValue.parse(run.output)
        let explainer = try Explainer(network: model.network, input: input)
        let target = explainer.predictedClass

        let keys = try XCTUnwrap(json.objectValue).map(\.0)
        XCTAssertEqual(Set(keys), ["arch", "layer", "target", "logits", "activation_shape", "methods",
                                   "predicted", "class_name"])
        XCTAssertEqual(keys.count, 8)
        XCTAssertEqual(json["arch"]?.stringValue, model.archPath)
        XCTAssertEqual(json["layer"]?.stringValue, "features.4")
        XCTAssertEqual(json["target"]?.intValue, target)
        XCTAssertEqual(json["predicted"]?.intValue, target)
        XCTAssertEqual(json["class_name"]?.stringValue, ["cat", "dog & <fox>", "bird \"b\""][target])
        XCTAssertEqual(json["logits"]?.floatArrayValue, explainer.logits)
        XCTAssertEqual(json["activation_shape"]?.arrayValue?.compactMap(\.intValue), [6, 6, 6])

        let methods = try XCTUnwrap(json["methods"]?.objectValue)
        XCTAssertEqual(methods.map(\.0), CAMMethod.allCases.map(\.rawValue), "K = 6: all includes shap-exact")
        let options = MethodOptions(orderings: 30, seed: 7)
        for (name, value) in methods {
            let method = try XCTUnwrap(CAMMethod(rawValue: name))
            XCTAssertEqual(Set(try XCTUnwrap(value.objectValue).map(\.0)), ["coefficients", "cam", "seconds"], name)
            let alpha = try XCTUnwrap(value["coefficients"]?.floatArrayValue, name)
            XCTAssertEqual(alpha, try explainer.coefficients(method, target: target, options: options), name)
            let rows = try XCTUnwrap(value["cam"]?.arrayValue, name)
            XCTAssertEqual(rows.count, 6, name)
            let cam = rows.flatMap { $0.floatArrayValue ?? [] }
            let expected = naiveClassActivationMap(activations: explainer.activations, coefficients: alpha)
            XCTAssertEqual(cam.count, expected.count, name)
            XCTAssertLessThanOrEqual(relativeDifference(cam, expected), 1e-5, name)
            let seconds = try XCTUnwrap(value["seconds"]?.doubleValue, name)
            XCTAssertTrue(seconds >= 0 && seconds < 60, "\(name): \(seconds) s")
        }
    }

    /// --target explains the class asked for, not the predicted one.
    func testExplainTargetOption() throws {
        let explainer = try Explainer(network: model.network, input: input)
        let other = (explainer.predictedClass + 1) % 3
        let run = runTool(["explain"] + model.arguments + ["--input", npyPath, "--method", "gradcam",
                                                           "--target", "\(other)", "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        let json = try JSONValue.parse(run.output)
        XCTAssertEqual(json["target"]?.intValue, other)
        XCTAssertEqual(json["methods"]?["gradcam"]?["coefficients"]?.floatArrayValue,
                       try explainer.coefficients(.gradcam, target: other))
    }

    /// explain --literal: listed in --help (explain and evaluate), and its logits and α are the
    /// literal Explainer's exactly.
    func testExplainLiteralRunsTheLiteralExplainer() throws {
        for command in ["explain", "evaluate"] {
            XCTAssertTrue(runTool([command, "--help"]).output.contains("--literal"), command)
        }
        let run = runTool(["explain"] + model.arguments + ["--input", npyPath, "--method", "lift,shap", "--orderings", "4",
                                                           "--literal", "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        let json = try JSONValue.parse(run.output)
        let literal = try Explainer(network: model.network, input: input, literal: true)
        XCTAssertEqual(json["logits"]?.floatArrayValue, literal.logits)
        let target = literal.predictedClass
        XCTAssertEqual(json["methods"]?["lift"]?["coefficients"]?.floatArrayValue, try literal.coefficients(.lift, target: target))
        XCTAssertEqual(json["methods"]?["shap"]?["coefficients"]?.floatArrayValue,
                       try literal.coefficients(.shap, target: target, options: MethodOptions(orderings: 4)))
    }
}
