import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// Examples/ExplainImage as a user runs it, and README's Swift snippets against the example's code.
final class ExampleProgramTests: PlatformTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The `explain-image` executable SwiftPM built beside the test bundle.
    private var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("explain-image").path
    }

    /// The example explains a fixture digit: its printed α equals the library's LIFT-CAM on the same
    /// input (made here independently of the example), and the PNG it writes decodes at the input size.
    func testExampleMatchesTheLibraryAndWritesAPNG() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let model = root + "/Fixtures/models/vgg_digits", picturePath = root + "/Fixtures/data/digits/0000.png"
        let output = directory + "/saliency.png"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: executable), "explain-image was not built beside the tests")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [model, picturePath, output]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, printed)

        let alphaLine = try XCTUnwrap(printed.split(separator: "\n").first { $0.hasPrefix("alpha ") }, printed)
        let printedAlpha = alphaLine.split(separator: " ").dropFirst().map { Float(String($0)) }
        XCTAssertFalse(printedAlpha.contains(nil), String(alphaLine))

        let picture = try PNG.decode(try readFileBytes(picturePath)).rgb()
        let network = try Network(architecture: try Architecture.load(path: model + "/arch.json"),
                                  weights: try WeightDirectory(path: model + "/weights"))
        let explainer = try Explainer(network: network, input: expectedInput(of: picture, normalize: true))
        let expected = try explainer.coefficients(.lift, target: explainer.predictedClass)
        XCTAssertEqual(printedAlpha.count, expected.count)
        XCTAssertLessThan(relativeDifference(printedAlpha.compactMap { $0 }, expected), 1e-6)
        XCTAssertTrue(printed.contains("class \(explainer.predictedClass) "), printed)

        let written = try PNG.decode(try readFileBytes(output))
        XCTAssertEqual([written.width, written.height], [picture.width, picture.height])
    }

    /// Every ```swift block of README.md is, line for line, a region of an example between
    /// `// BEGIN README` and `// END README` (indentation removed), so the README shows code that compiles.
    func testReadmeSnippetsAreTheExamplesCode() throws {
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let snippets = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        XCTAssertFalse(snippets.isEmpty, "README.md has no Swift snippet")

        var regions: [String] = []
        let examples = root + "/Examples"
        for folder in directoryListing(examples) {
            for file in directoryListing(examples + "/" + folder) where file.hasSuffix(".swift") {
                let lines = try String(contentsOfFile: examples + "/" + folder + "/" + file, encoding: .utf8)
                    .components(separatedBy: "\n")
                var inside: [String]?
                for line in lines {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.hasPrefix("// BEGIN README") { inside = [] } else if trimmed.hasPrefix("// END README") {
                        regions.append(dedented(inside ?? []))
                        inside = nil
                    } else { inside?.append(line) }
                }
            }
        }
        XCTAssertFalse(regions.isEmpty, "no marked region in Examples/")
        for snippet in snippets {
            XCTAssertTrue(regions.contains(snippet), "README snippet is in no example's marked region:\n\(snippet)")
        }
    }

    /// The lines with their common leading spaces removed, each ending in a newline.
    private func dedented(_ lines: [String]) -> String {
        let indent = lines.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { String($0.dropFirst(min(indent, $0.count))) + "\n" }.joined()
    }
}
