import Foundation
import LiftCAM
import LiftCAMImaging
import LiftCAMTool
import XCTest

/// `liftcam bench`: the JSON it promises, with values checked against the library where they are
/// not times, and its usage errors.
final class BenchCommandTests: TinyModelTestCase {
    private func runBench(_ extra: [String]) throws -> [String: Any] {
        let out = directory + "/bench.json"
        let run = runTool(["bench"] + model.arguments + ["--input", pngPath, "--json", out] + extra)
        XCTAssertEqual(run.status, 0, run.error)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testReportsMediansPerMethodAndTheMaps() throws {
        let json = try runBench(["--repeat", "3", "--method", "lift,ablation,shap", "--orderings", "4"])
        XCTAssertEqual(json["repeat"] as? Double, 3)
        XCTAssertGreaterThan(try XCTUnwrap(json["forward_seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(json["peak_rss_mb"] as? Double), 1)
        XCTAssertEqual(json["threads"] as? Double, Double(workerCount))
        let methods = try XCTUnwrap(json["methods"] as? [String: [String: Double]])
        XCTAssertEqual(Set(methods.keys), ["lift", "ablation", "shap"])
        for (name, entry) in methods {
            let total = try XCTUnwrap(entry["seconds"]), after = try XCTUnwrap(entry["after_forward_seconds"])
            XCTAssertGreaterThan(after, 0, name)
            XCTAssertLessThanOrEqual(after, total, name)
        }
        let shap = try XCTUnwrap(methods["shap"])
        XCTAssertEqual(try XCTUnwrap(shap["seconds_per_ordering"]), try XCTUnwrap(shap["after_forward_seconds"]) / 4, accuracy: 1e-12)

        // The map counts are those of the input's activations, computed here by the library.
        let input = expectedInput(of: try testPicture(width: 12, height: 12, seed: 3), normalize: true)
        let maps = try Explainer(network: model.network, input: input).activations
        let plane = maps.count / maps.shape[0]
        let zero = (0..<maps.shape[0]).filter { k in !maps.storage[k * plane ..< (k + 1) * plane].contains { $0 != 0 } }.count
        let counts = try XCTUnwrap(json["maps"] as? [String: Double])
        XCTAssertEqual(counts["count"], Double(maps.shape[0]))
        XCTAssertEqual(counts["all_zero"], Double(zero))
    }

    func testThreadLimitIsReportedAndRestored() throws {
        let before = workerCount
        let json = try runBench(["--repeat", "1", "--threads", "1"])
        XCTAssertEqual(json["threads"] as? Double, 1)
        XCTAssertEqual(workerCount, before, "the process-wide thread limit must be put back")
    }

    func testRandomWeightsWhenNoneAreGiven() {
        let run = runTool(["bench", "--arch", model.archPath, "--repeat", "1", "--method", "gradcam", "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.contains("\"gradcam\""), run.output)
    }

    func testUsageErrors() {
        for bad in [["--repeat", "0"], ["--repeat", "1000"], ["--threads", "0"], ["--threads", "two"],
                    ["--method", "nope"], ["--orderings", "0"]] {
            let run = runTool(["bench"] + model.arguments + ["--json", "-"] + bad)
            XCTAssertEqual(run.status, 2, "\(bad): \(run.error)")
            XCTAssertFalse(run.error.isEmpty)
        }
        let missing = runTool(["bench", "--arch", model.archPath, "--weights", directory + "/nowhere", "--json", "-"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.error.contains("nowhere"), missing.error)
    }
}
