import Foundation
import LiftCAM
import LiftCAMTool
import XCTest

/// `--shard` + `liftcam merge` give exactly one run's numbers; merge refuses mixed or overlapping
/// shards; `--repeats` is the mean of single-seed runs (Table 1).
final class EvaluateMergeTests: PlatformTestCase {
    /// The metric keys that do not depend on the clock.
    static let metricKeys = ["iic", "ad", "add", "insertion_auc", "deletion_auc", "energy_pointing_game", "cosine_to_shap", "runs"]

    /// Markdown without its last column (seconds per image, which no two runs share).
    func withoutSeconds(_ markdown: String) -> String {
        markdown.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard line.hasPrefix("|") else { return String(line) }
            return line.split(separator: "|", omittingEmptySubsequences: false).dropLast(2).joined(separator: "|")
        }.joined(separator: "\n")
    }

    func testShardsMergedEqualOneRunExactly() throws {
        let fixture = try EvaluationFixture()
        // One bad row among the good ones, so "skipped" is merged too.
        try fixture.writeManifest(Array(EvaluationFixture.goodRows.prefix(5)) + ["missing.png,1,,,,"] + EvaluationFixture.goodRows.dropFirst(5))
        let common = ["--method", "lift,gradcam,shap:3", "--repeats", "2", "--reference-orderings", "30", "--skip-bad"]
        let whole = fixture.evaluate(common + ["--json", fixture.root + "/whole.json"])
        XCTAssertEqual(whole.status, 0, whole.err)
        var shardFiles: [String] = []
        for i in 0..<3 {
            shardFiles.append(fixture.root + "/part\(i).json")
            let part = fixture.evaluate(common + ["--shard", "\(i)/3", "--json", shardFiles[i]])
            XCTAssertEqual(part.status, 0, part.err)
        }
        let merged = fixture.run(["merge"] + shardFiles + ["--json", fixture.root + "/merged.json"])
        XCTAssertEqual(merged.status, 0, merged.err)
        XCTAssertEqual(merged.err, "")

        let one = try fixture.json(fixture.root + "/whole.json"), combined = try fixture.json(fixture.root + "/merged.json")
        XCTAssertEqual(combined["images"], 10)
        XCTAssertEqual(combined["skipped"], 1)
        XCTAssertEqual(combined["images"], one["images"])
        for method in ["lift", "gradcam", "shap:3"] {
            for key in Self.metricKeys {
                let a = try XCTUnwrap(one["methods"]?[method]?[key]), b = try XCTUnwrap(combined["methods"]?[method]?[key])
                XCTAssertEqual(a, b, "\(method) \(key)")   // JSONValue ==: the same Double, bit for bit
            }
            // Seconds differ between runs, but the merge's are the mean of the shards' per-image seconds.
            var seconds: [(Int, Double)] = []
            for file in shardFiles {
                for record in try fixture.json(file)["per_image"]?.arrayValue ?? [] {
                    let runs = record["scores"]?[method]?.arrayValue?.compactMap { $0["seconds"]?.doubleValue } ?? []
                    seconds.append((record["index"]!.intValue!, runs.reduce(0, +) / Double(runs.count)))
                }
            }
            XCTAssertEqual(seconds.count, 10)
            let expected = seconds.sorted { $0.0 < $1.0 }.map(\.1).reduce(0, +) / 10
            XCTAssertEqual(try XCTUnwrap(combined["methods"]?[method]?["seconds_per_image"]?.doubleValue), expected, accuracy: 1e-12)
        }
        XCTAssertEqual(combined["per_image"]?.arrayValue?.compactMap { $0["index"]?.intValue }, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
        XCTAssertEqual(withoutSeconds(merged.out), withoutSeconds(whole.out))
        XCTAssertTrue(whole.out.contains("| shap:3 (mean of 2 runs) |"), whole.out)

        // Merging in steps: (0 + 2) then 1 gives the same file content as all at once.
        XCTAssertEqual(fixture.run(["merge", shardFiles[2], shardFiles[0], "--json", fixture.root + "/two.json"]).status, 0)
        XCTAssertEqual(fixture.run(["merge", fixture.root + "/two.json", shardFiles[1], "--json", fixture.root + "/three.json"]).status, 0)
        XCTAssertEqual(try fixture.json(fixture.root + "/three.json"), combined)

        // A partial merge says what is missing: shards 0 and 2 hold rows 0, 3, 6, 9 and 2, 5 (the bad one), 8.
        let partial = fixture.run(["merge", shardFiles[0], shardFiles[2]])
        XCTAssertEqual(partial.status, 0, partial.err)
        XCTAssertTrue(partial.err.contains("shard 1 of 3 not given"), partial.err)
        XCTAssertTrue(partial.out.hasPrefix("6 images, 1 skipped, shards 0, 2 of 3"), partial.out)
    }

    func testMergeRefusesOverlappingAndInconsistentShards() throws {
        let fixture = try EvaluationFixture()
        let common = ["--method", "lift", "--limit", "4", "--reference-orderings", "0"]
        func part(_ name: String, _ extra: [String]) throws -> String {
            let path = fixture.root + "/" + name
            let result = fixture.evaluate(common + extra + ["--json", path])
            XCTAssertEqual(result.status, 0, result.err)
            return path
        }
        let a = try part("a.json", ["--shard", "0/2"]), b = try part("b.json", ["--shard", "0/2"])
        let halves = try part("c.json", ["--shard", "1/3"])
        let otherMethod = try part("d.json", ["--shard", "1/2", "--method", "gradcam"])
        let out = fixture.root + "/merged.json"

        let overlap = fixture.run(["merge", a, b, "--json", out])
        XCTAssertEqual(overlap.status, 1)
        XCTAssertTrue(overlap.err.contains("overlap: both hold shard 0/2"), overlap.err)
        let counts = fixture.run(["merge", a, halves, "--json", out])
        XCTAssertEqual(counts.status, 1)
        XCTAssertTrue(counts.err.contains("is a shard of 3 but"), counts.err)
        let methods = fixture.run(["merge", a, otherMethod, "--json", out])
        XCTAssertEqual(methods.status, 1)
        XCTAssertTrue(methods.err.contains("come from different runs: \"methods\" is [\"gradcam\"] in one and [\"lift\"] in the other"), methods.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        try "{\"images\": 1}".write(toFile: fixture.root + "/other.json", atomically: true, encoding: .utf8)
        let foreign = fixture.run(["merge", a, fixture.root + "/other.json"])
        XCTAssertEqual(foreign.status, 1)
        XCTAssertTrue(foreign.err.contains("other.json: not a complete result of liftcam evaluate"), foreign.err)
        XCTAssertEqual(fixture.run(["merge"]).status, 2)
        XCTAssertEqual(fixture.run(["merge", fixture.root + "/absent.json"]).status, 1)
    }

    /// Table 1: `shap:1,shap:5 --repeats 2 --seed 3` is, number by number, the mean of a run with
    /// seed 3 and a run with seed 4 (the cosine reference fixed with --reference-seed).
    func testRepeatsAverageSingleSeedRuns() throws {
        let fixture = try EvaluationFixture()
        let common = ["--method", "shap:1,shap:5", "--limit", "5", "--reference-orderings", "40", "--reference-seed", "11"]
        func methods(_ extra: [String]) throws -> JSONValue {
            let path = fixture.root + "/run.json"
            let result = fixture.evaluate(common + extra + ["--json", path])
            XCTAssertEqual(result.status, 0, result.err)
            return try XCTUnwrap(try fixture.json(path)["methods"])
        }
        let repeated = try methods(["--seed", "3", "--repeats", "2"])
        let first = try methods(["--seed", "3"]), second = try methods(["--seed", "4"])
        for method in ["shap:1", "shap:5"] {
            XCTAssertEqual(repeated[method]?["runs"], 2)
            XCTAssertEqual(first[method]?["runs"], 1)
            for key in Self.metricKeys.dropLast() {
                let a = try XCTUnwrap(first[method]?[key]?.doubleValue, key), b = try XCTUnwrap(second[method]?[key]?.doubleValue, key)
                XCTAssertEqual(try XCTUnwrap(repeated[method]?[key]?.doubleValue), (a + b) / 2, accuracy: 1e-12, "\(method) \(key)")
            }
        }
        // The two seeds really differ (else the mean would prove nothing).
        XCTAssertNotEqual(first["shap:1"]?["cosine_to_shap"], second["shap:1"]?["cosine_to_shap"])
    }
}
