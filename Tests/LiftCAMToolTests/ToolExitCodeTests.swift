import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// Exit codes and messages: 2 for usage errors (with the usage line), 1 for bad input (one line
/// naming the file or the argument), 0 for --help.
final class ToolExitCodeTests: TinyModelTestCase {

    func explain(_ extra: [String], input: String? = nil) -> ToolRun {
        runTool(["explain"] + model.arguments + ["--input", input ?? pngPath] + extra)
    }

    func assertFailure(_ run: ToolRun, status: Int32, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, status, run.error, file: file, line: line)
        for text in mentions {
            XCTAssertTrue(run.error.contains(text), "'\(text)' not in: \(run.error)", file: file, line: line)
        }
        if status == 1 {
            // One line: "liftcam <command>: <problem>".
            XCTAssertEqual(run.error.split(separator: "\n").count, 1, run.error, file: file, line: line)
        }
    }

    func testUsageErrorsExitTwo() {
        assertFailure(explain(["--bogus"]), status: 2, mentions: ["unknown option '--bogus'", "usage: liftcam explain"])
        assertFailure(runTool(["explain"] + model.arguments + ["--input"]), status: 2,
                      mentions: ["--input needs a value", "usage: liftcam explain"])
        assertFailure(runTool(["explain"] + model.arguments), status: 2, mentions: ["missing --input"])
        assertFailure(runTool(["forward", "--nope"]), status: 2, mentions: ["unknown option '--nope'"])
        assertFailure(runTool(["demo", "--bogus"]), status: 2, mentions: ["unknown option '--bogus'", "usage: liftcam demo"])
        assertFailure(runTool(["demo", "--out"]), status: 2, mentions: ["--out needs a value"])
        assertFailure(runTool(["demo", "--images", "0"]), status: 2, mentions: ["--images must be an integer ≥ 1"])
        assertFailure(runTool(["nonsense"]), status: 2, mentions: ["unknown subcommand 'nonsense'"])
    }

    func testHelpOfEverySubcommand() {
        for command in ["forward", "explain", "demo"] {
            let run = runTool([command, "--help"])
            XCTAssertEqual(run.status, 0, command)
            XCTAssertTrue(run.output.contains("usage: liftcam \(command)"), command)
            XCTAssertTrue(run.output.contains("example:\n  liftcam \(command)"), command)
        }
        XCTAssertTrue(runTool(["explain", "--help"]).output.contains("--out DIR"))
        XCTAssertTrue(runTool(["--help"]).output.contains("demo"))
    }

    func testBadInputExitsOneWithAClearLine() throws {
        assertFailure(explain(["--method", "lift,bogus"]), status: 1, mentions: ["unknown method 'bogus'"])

        let missing = directory + "/no-such-photo.png"
        assertFailure(explain([], input: missing), status: 1, mentions: [missing, "no such file"])

        var corrupt = try readFileBytes(pngPath)
        corrupt[corrupt.count / 2] ^= 0x55   // inside the image data: the chunk's CRC-32 no longer matches
        let corruptPNG = directory + "/corrupt.png"
        try writeFileAtomically(corruptPNG, bytes: corrupt)
        assertFailure(explain([], input: corruptPNG), status: 1, mentions: [corruptPNG])

        let corruptNPY = directory + "/corrupt.npy"
        try writeFileAtomically(corruptNPY, bytes: Array("\u{93}NUMPY this is not an array".utf8))
        assertFailure(explain([], input: corruptNPY), status: 1, mentions: [corruptNPY])

        assertFailure(explain(["--target", "3"]), status: 1, mentions: ["target class 3 is out of range", "3 classes"])
        assertFailure(explain(["--layer", "features.99"]), status: 1, mentions: ["features.99"])
    }

    /// shap-exact asked for by name on a layer with K = 24 > 20 maps is refused (exit 1); with
    /// `all` it is skipped with a note and the run succeeds.
    func testExactShapleyNeedsFewMaps() throws {
        let wide = try TinyModel(in: directory, name: "wide", json: TinyModel.wideJSON)
        let named = runTool(["explain"] + wide.arguments + ["--input", pngPath, "--method", "shap-exact"])
        assertFailure(named, status: 1, mentions: ["shap-exact", "K = 24"])
        let all = runTool(["explain"] + wide.arguments + ["--input", pngPath, "--method", "all", "--orderings", "5",
                                                          "--json", "-"])
        XCTAssertEqual(all.status, 0, all.error)
        XCTAssertTrue(all.error.contains("skipping shap-exact"))
        let methods = try JSONValue.parse(all.output)["methods"]?.objectValue?.map(\.0)
        XCTAssertEqual(methods, CAMMethod.allCases.filter { $0 != .shapExact }.map(\.rawValue))
    }
}
