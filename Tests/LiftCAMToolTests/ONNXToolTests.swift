import Foundation
import LiftCAM
import XCTest

/// The repository's Fixtures folder.
enum PyTorchFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
}

/// `--arch model.onnx` through the tool: the weights come from the file, every method runs on a
/// graph model, the metadata's class names reach the output, and bad models exit 1 with one line.
final class ONNXToolTests: XCTestCase {
    static let models = PyTorchFixtures.root.appendingPathComponent("onnx/models")

    func model(_ name: String) -> String { Self.models.appendingPathComponent(name + ".onnx").path }

    func input(_ name: String) -> String {
        PyTorchFixtures.root.appendingPathComponent("onnx/reference/\(name)/case0/input.npy").path
    }

    func testExplainEveryMethodOnAnSEModel() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let run = runTool(["explain", "--arch", model("mobilenet_v3_small"), "--input", input("mobilenet_v3_small"),
                           "--method", "lift,gradcam,gradcampp,xgradcam,ablation,scorecam,shap,lime,lrp", "--orderings", "3",
                           "--json", directory + "/out.json"])
        XCTAssertEqual(run.status, 0, run.error)
        let json = try JSONValue.parse(try String(contentsOfFile: directory + "/out.json", encoding: .utf8))
        let methods = try XCTUnwrap(json["methods"]?.objectValue)
        XCTAssertEqual(methods.map(\.0), ["lift", "gradcam", "gradcampp", "xgradcam", "ablation", "scorecam", "shap", "lime", "lrp"])
        XCTAssertEqual(json["layer"]?.stringValue, "/features/features.12/features.12.2/HardSwish_output_0", "the metadata's default layer")
        let target = try XCTUnwrap(json["target"]?.intValue)
        XCTAssertEqual(json["class_name"]?.stringValue, "\(target)", "class names from the metadata")
        let reference = try readNPY(path: PyTorchFixtures.root.appendingPathComponent("onnx/reference/mobilenet_v3_small/case0/logits.npy").path)
        XCTAssertLessThan(relativeDifference(try XCTUnwrap(json["logits"]?.floatArrayValue), reference.storage), 1e-4)
        let explainer = try Explainer(network: Network(graph: try GraphModel(onnxPath: model("mobilenet_v3_small"))),
                                      input: try readNPY(path: input("mobilenet_v3_small")))
        XCTAssertEqual(methods.first?.1["coefficients"]?.floatArrayValue, try explainer.coefficients(.lift, target: target))
    }

    func testForwardNeedsNoWeightsAndRefusesThem() throws {
        let run = runTool(["forward", "--arch", model("densenet"), "--input", input("densenet"), "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        let refused = runTool(["forward", "--arch", model("densenet"), "--weights", "/tmp", "--input", input("densenet")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.error.contains("carries its own weights"), refused.error)
        let missing = runTool(["forward", "--arch", "vgg16", "--input", input("densenet")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.error.contains("--weights is required with --arch vgg16"), missing.error)
    }

    func testBadModelsExitOneNamingTheFileAndNode() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Truncated: the reader names the file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model("squeezenet1_1")))
        let truncated = directory + "/truncated.onnx"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let cut = runTool(["forward", "--arch", truncated, "--input", input("squeezenet1_1")])
        XCTAssertEqual(cut.status, 1)
        XCTAssertTrue(cut.error.contains(truncated + ":"), cut.error)
        XCTAssertEqual(cut.error.split(separator: "\n").count, 1, cut.error)
        // A missing file.
        let absent = runTool(["forward", "--arch", directory + "/absent.onnx", "--input", input("squeezenet1_1")])
        XCTAssertEqual(absent.status, 1)
        XCTAssertTrue(absent.error.contains("absent.onnx"), absent.error)
        // An unknown layer lists the default and some map tensors.
        let layer = runTool(["explain", "--arch", model("squeezenet1_1"), "--input", input("squeezenet1_1"), "--layer", "nope",
                             "--method", "lift", "--json", "-"])
        XCTAssertEqual(layer.status, 1)
        XCTAssertTrue(layer.error.contains("unknown layer 'nope'"), layer.error)
        XCTAssertTrue(layer.error.contains("the default is '/features/features.12/Concat_output_0'"), layer.error)
    }
}
