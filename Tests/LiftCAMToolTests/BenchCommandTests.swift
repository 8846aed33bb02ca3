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
            let total = try XCTUnwrap(entry["seconds"]), after = try XCTUnwrap(entry["after_explainer_seconds"])
            XCTAssertGreaterThan(after, 0, name)
            XCTAssertLessThanOrEqual(after, total, name)
        }
        XCTAssertNotNil(methods["shap"]?["seconds_per_ordering"])
        XCTAssertGreaterThan(try XCTUnwrap(json["explainer_seconds"] as? Double), 0)
        XCTAssertEqual(json["input_size"] as? [Double], [12, 12])

        // The map counts are those of the input's activations, computed here by the library.
        let input = expectedInput(of: try testPicture(width: 12, height: 12, seed: 3), normalize: true)
        let explainer = try Explainer(network: model.network, input: input)
        let maps = explainer.activations
        let plane = maps.count / maps.shape[0]
        let planes = (0..<maps.shape[0]).map { k in Array(maps.storage[k * plane ..< (k + 1) * plane]) }
        let counts = try XCTUnwrap(json["maps"] as? [String: Double])
        XCTAssertEqual(counts["count"], Double(maps.shape[0]))
        XCTAssertEqual(counts["all_zero"], Double(planes.filter { $0.allSatisfy { $0 == 0 } }.count))
        XCTAssertEqual(counts["constant"], Double(planes.filter { Set($0).count == 1 }.count))
        XCTAssertEqual(json["target"] as? Double, Double(explainer.predictedClass))
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
                    ["--method", "nope"], ["--orderings", "0"], ["--target", "3"], ["--target", "-1"]] {
            let run = runTool(["bench"] + model.arguments + ["--json", "-"] + bad)
            XCTAssertEqual(run.status, 2, "\(bad): \(run.error)")
            XCTAssertFalse(run.error.isEmpty)
        }
        let missing = runTool(["bench", "--arch", model.archPath, "--weights", directory + "/nowhere", "--json", "-"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.error.contains("nowhere"), missing.error)
    }

    /// An explicit shap-exact on a layer with K > 20 fails before any timing; "all" leaves it out.
    func testShapExactOnlyWhereItApplies() throws {
        let wide = try TinyModel(in: directory, name: "wide", json: TinyModel.wideJSON)
        let refused = runTool(["bench"] + wide.arguments + ["--repeat", "1", "--method", "shap-exact", "--json", "-"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.error.contains("K = 24"), refused.error)
        let all = runTool(["bench"] + wide.arguments + ["--repeat", "1", "--method", "all", "--orderings", "2", "--json", "-"])
        XCTAssertEqual(all.status, 0, all.error)
        XCTAssertFalse(all.output.contains("shap-exact"), all.output)
        XCTAssertTrue(all.output.contains("\"scorecam\""), all.output)
    }
}
