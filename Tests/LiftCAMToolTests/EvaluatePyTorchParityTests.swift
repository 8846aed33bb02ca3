import Foundation
import LiftCAM
import XCTest

/// `liftcam evaluate` against an independent PyTorch computation of the same definitions
/// (Fixtures/evaluate_reference.py) on the first 24 images of the fixture dataset, with the trained
/// VGG-style network: IIC, AD, ADD and the pointing game within 0.1 on the percentage scale, the
/// insertion and deletion AUCs within 1e-3.
final class EvaluatePyTorchParityTests: PlatformTestCase {
    func testEvaluateMatchesPyTorchOnTheFixtureDataset() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures").path
        let referencePath = fixtures + "/reference/evaluate_vgg_digits.json"
        guard FileManager.default.fileExists(atPath: referencePath) else {
            throw XCTSkip("no \(referencePath) (run Fixtures/evaluate_reference.py)")
        }
        let reference = try JSONValue.parse(try String(contentsOfFile: referencePath, encoding: .utf8))
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let output = directory + "/result.json"
        let run = runTool(["evaluate", "--arch", fixtures + "/models/vgg_digits/arch.json",
                           "--weights", fixtures + "/models/vgg_digits/weights", "--data", fixtures + "/data/digits",
                           "--method", "lift,gradcam", "--limit", "\(reference["images"]!.intValue!)",
                           "--reference-orderings", "0", "--json", output])
        XCTAssertEqual(run.status, 0, run.error)
        let result = try JSONValue.parse(try String(contentsOfFile: output, encoding: .utf8))
        XCTAssertEqual(result["images"]?.intValue, reference["images"]?.intValue)
        for method in ["lift", "gradcam"] {
            let ours = try XCTUnwrap(result["methods"]?[method]), theirs = try XCTUnwrap(reference["methods"]?[method])
            for (key, tolerance) in [("iic", 0.1), ("ad", 0.1), ("add", 0.1), ("energy_pointing_game", 0.1),
                                     ("insertion_auc", 1e-3), ("deletion_auc", 1e-3)] {
                let a = try XCTUnwrap(ours[key]?.doubleValue, "\(method) \(key)")
                let b = try XCTUnwrap(theirs[key]?.doubleValue, "\(method) \(key)")
                XCTAssertEqual(a, b, accuracy: tolerance, "\(method) \(key)")
            }
        }
    }
}
