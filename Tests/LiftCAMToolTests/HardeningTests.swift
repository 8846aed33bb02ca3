import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// Adversarial inputs that used to trap or exhaust memory: each now fails with exit 1 (bad input) or
/// 2 (usage), one line naming the file or option, and leaves no output file behind.
final class HardeningTests: TinyModelTestCase {

    /// Runs explain with a JSON destination and checks status, message and that no JSON was written.
    func assertRefused(_ extra: [String], input: String? = nil, arch: [String]? = nil, status: Int32, mentions: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        let json = directory + "/out.json"
        let run = runTool(["explain"] + (arch ?? model.arguments) + ["--input", input ?? pngPath, "--json", json] + extra)
        XCTAssertEqual(run.status, status, run.error, file: file, line: line)
        for text in mentions {
            XCTAssertTrue(run.error.contains(text), "'\(text)' not in: \(run.error)", file: file, line: line)
        }
        XCTAssertFalse(run.error.contains("Fatal error"), run.error, file: file, line: line)
        if status == 1 { XCTAssertEqual(run.error.split(separator: "\n").count, 1, run.error, file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: json), "output left behind", file: file, line: line)
    }

    func writeNPY(_ name: String, shape: [Int], values: [Float]) throws -> String {
        let path = directory + "/" + name
        try LiftCAM.writeNPY(Tensor(shape: shape, storage: values), path: path)
        return path
    }

    func testAbsurdSizeIsAUsageErrorNotAnAllocation() {
        assertRefused(["--size", "100000"], status: 2, mentions: ["--size 100000 is too large", "4096"])
        assertRefused(["--size", "12x100000"], status: 2, mentions: ["--size 12x100000 is too large"])
        assertRefused(["--size", "5x"], status: 2, mentions: ["--size must be H or HxW", "'5x'"])
    }

    func testNonFiniteNormalisationIsRefused() {
        assertRefused(["--mean", "nan,0,0"], status: 2, mentions: ["--mean must be three finite numbers", "'nan,0,0'"])
        assertRefused(["--std", "inf,1,1"], status: 2, mentions: ["--std must be three finite numbers"])
    }

    func testAbsurdSampleCountsAreRefused() {
        // K = 6 maps: 2^27 / 6 = 22369621 orderings at most.
        assertRefused(["--method", "shap", "--orderings", "10000000000"], status: 1,
                      mentions: ["--orderings 10000000000 is too large", "K = 6", "at most 22369621"])
        assertRefused(["--method", "shap", "--orderings", "9223372036854775807"], status: 1, mentions: ["--orderings 9223372036854775807 is too large"])
        assertRefused(["--method", "lime", "--lime-samples", "9223372036854775807"], status: 1,
                      mentions: ["--lime-samples 9223372036854775807 is too large"])
    }

    /// `--out` naming an existing file is refused before any work, not after it.
    func testOutThatIsAFileIsRefusedUpFront() throws {
        let file = directory + "/taken"
        try writeFileAtomically(file, text: "x")
        assertRefused(["--out", file, "--method", "scorecam"], status: 1, mentions: [file + ": exists and is not a directory"])
    }

    /// The SHAP-CAM reference's size limit names the option the user gave.
    func testAbsurdReferenceOrderingsNameTheirOption() throws {
        let data = directory + "/data"
        try makeDirectory(data)
        try writeFileAtomically(data + "/a.png", bytes: PNG.encode(try testPicture(width: 12, height: 12, seed: 4)))
        try writeFileAtomically(data + "/manifest.csv", text: "file,label,x_min,y_min,x_max,y_max\na.png,0,,,,\n")
        let run = runTool(["evaluate"] + model.arguments + ["--data", data, "--method", "lift",
                                                             "--reference-orderings", "10000000000"])
        XCTAssertEqual(run.status, 1, run.error)
        XCTAssertTrue(run.error.contains("--reference-orderings 10000000000 is too large"), run.error)
    }

    func testEmptyAndNonFiniteTensorInputs() throws {
        let empty = try writeNPY("empty.npy", shape: [3, 0, 12], values: [])
        assertRefused([], input: empty, status: 1, mentions: [empty, "the tensor [3, 0, 12] is empty"])
        var values = [Float](repeating: 0.5, count: 3 * 12 * 12)
        values[7] = .nan
        let withNaN = try writeNPY("nan.npy", shape: [3, 12, 12], values: values)
        assertRefused([], input: withNaN, status: 1, mentions: [withNaN, "element [0, 0, 7] (flat index 7) is NaN; inputs must be finite numbers"])
        values[7] = -.infinity
        let withInf = try writeNPY("inf.npy", shape: [1, 3, 12, 12], values: values)
        assertRefused([], input: withInf, status: 1, mentions: [withInf, "element [0, 0, 7] (flat index 7) is -infinity; inputs must be finite numbers"])
    }

    func testAbsurdArchitecturesAreRefusedBeforeAllocating() throws {
        let cases: [(String, String)] = [
            (#""config": [100000000], "classifier": [8], "input": [3, 12, 12]"#, "'config' is too large: a weight tensor would have 2700000000 elements"),
            (#""config": [16777216, 16777216], "classifier": [8], "input": [3, 12, 12]"#, "'config' is too large"),
            (#""config": [4], "classifier": [16777216, 16777216], "input": [3, 12, 12]"#, "'classifier' is too large"),
            (#""config": [4], "classifier": [8], "pool": [16777216, 16777216], "input": [3, 12, 12]"#, "'pool' and 'classifier' is too large"),
            (#""config": [4], "classifier": [8], "input": [3, 16777216, 12]"#, "'input' [3, 16777216, 12] is too large: at most 4096 pixels a side"),
        ]
        for (index, (fields, message)) in cases.enumerated() {
            let path = directory + "/absurd\(index).json"
            try writeFileAtomically(path, text: #"{"family": "vgg", "classes": 3, "#  + fields + "}")
            assertRefused([], arch: ["--arch", path, "--weights", model.weightsPath], status: 1, mentions: [path, message])
        }
        let resnet = directory + "/wide-resnet.json"
        try writeFileAtomically(resnet, text: #"{"family": "resnet", "block": "bottleneck", "layers": [1, 1, 1, 1], "width": 16777216, "classes": 3}"#)
        assertRefused([], arch: ["--arch", resnet, "--weights", model.weightsPath], status: 1, mentions: [resnet, "'width' is too large"])
    }
}
