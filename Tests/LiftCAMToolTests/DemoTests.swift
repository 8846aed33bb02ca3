import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// `liftcam demo`: on a stand-in Fixtures folder built here (found through $LIFTCAM_FIXTURES), and
/// on the repository's real Fixtures when they are there.
final class DemoTests: PlatformTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }

    override func tearDown() {
        unsetenv("LIFTCAM_FIXTURES")
        removeTemporaryDirectory(directory)
    }

    /// A Fixtures folder with the demo's layout: models/vgg_digits/{arch.json, weights/} (the tiny
    /// random network, input 12 × 12) and data/digits/{manifest.csv, five PNGs}.
    func makeFixtures(manifest: String? = nil) throws -> (root: String, network: Network, pictures: [Image]) {
        let root = directory + "/Fixtures"
        let modelFolder = root + "/models/vgg_digits", dataFolder = root + "/data/digits"
        try makeDirectory(modelFolder)
        try makeDirectory(dataFolder)
        let model = try TinyModel(in: directory)
        try FileManager.default.copyItem(atPath: model.archPath, toPath: modelFolder + "/arch.json")
        try FileManager.default.copyItem(atPath: model.weightsPath, toPath: modelFolder + "/weights")
        var rows = ["file,label,x_min,y_min,x_max,y_max"]
        var pictures: [Image] = []
        for n in 0..<5 {
            let picture = try testPicture(width: 12, height: 12, seed: 100 + UInt64(n))
            try writeFileAtomically("\(dataFolder)/digit \(n).png", bytes: PNG.encode(picture))
            pictures.append(picture)
            rows.append("digit \(n).png,\(n % 3),1,1,8,8")
        }
        try writeFileAtomically(dataFolder + "/manifest.csv", text: manifest ?? rows.joined(separator: "\n") + "\n")
        return (root, model.network, pictures)
    }

    /// Two images, every method: a folder per image with the same files as `explain --out`, each
    /// map equal (1e-5 relative) to the library's for the predicted class of the image, the
    /// manifest's box giving the pointing game (Eq 15, within 0.001 percentage points: 4 decimals
    /// are shown and the map agrees to 1e-5), and an index.html that links both reports, shows the
    /// true classes and inlines every overlay.
    func testDemoOnStandInFixtures() throws {
        let (root, network, pictures) = try makeFixtures()
        setenv("LIFTCAM_FIXTURES", root, 1)
        let out = directory + "/demo"
        let run = runTool(["demo", "--out", out, "--images", "2", "--orderings", "20"])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.hasSuffix("report: \(out)/index.html\n"), run.output)
        XCTAssertEqual(directoryListing(out), ["digit_0", "digit_1", "index.html"])

        let index = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertTrue(index.contains("href=\"digit_0/report.html\"") && index.contains("href=\"digit_1/report.html\""))
        XCTAssertEqual(inlinedPNGs(in: index).count, 2 * (1 + CAMMethod.allCases.count))
        XCTAssertTrue(index.contains("true <span class=\"true\">1 · dog &amp; &lt;fox&gt;</span>"), "the true class of the second image")
        // A row of every method's overlay fits the page's 1200 px: the widths shown, each with the
        // 14 px its cell adds (padding and image margin), add up to at most the 1170 px of content.
        let shownWidths = index.components(separatedBy: "<img").dropFirst().compactMap { tag in
            tag.components(separatedBy: "width=\"").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        let perRow = 1 + CAMMethod.allCases.count
        XCTAssertEqual(shownWidths.count, 2 * perRow)
        XCTAssertLessThanOrEqual(shownWidths.prefix(perRow).map { $0 + 14 }.reduce(0, +), 1170)

        for (n, picture) in pictures.prefix(2).enumerated() {
            let folder = "\(out)/digit_\(n)"
            let explainer = try Explainer(network: network, input: expectedInput(of: picture, normalize: true))
            let report = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
            for method in CAMMethod.allCases {
                XCTAssertTrue(report.contains("<b>\(method.rawValue)</b>"), "\(folder): \(method)")
                let map = try readNPY(path: "\(folder)/\(method.rawValue)_cam.npy")
                let alpha = try explainer.coefficients(method, target: explainer.predictedClass,
                                                       options: MethodOptions(orderings: 20))
                let expected = naiveClassActivationMap(activations: explainer.activations, coefficients: alpha)
                XCTAssertLessThanOrEqual(relativeDifference(map.storage, expected), 1e-5, "\(folder): \(method)")
                let saliency = saliency(of: Tensor(shape: [6, 6], storage: expected), height: 12, width: 12)
                let pointing = energyPointingGame(saliency: saliency, box: BoundingBox(xMin: 1, yMin: 1, xMax: 8, yMax: 8))
                let shown = try XCTUnwrap(reportTableRows(report, header: method.rawValue).last?.last.flatMap(Double.init))
                XCTAssertEqual(shown, pointing, accuracy: 1e-3, "\(folder): \(method)")
            }
            XCTAssertTrue(report.contains("Faithfulness on this image") && report.contains("pointing game % ↑"))
        }
    }

    func testDemoErrorsNameWhatIsWrong() throws {
        setenv("LIFTCAM_FIXTURES", directory + "/nowhere", 1)
        let missing = runTool(["demo", "--out", directory + "/demo"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.error.contains("LIFTCAM_FIXTURES") && missing.error.contains("models/vgg_digits/arch.json"),
                      missing.error)

        let (root, _, _) = try makeFixtures(manifest: "file,label\ndigit 0.png,0\ndigit 1.png,7\n")
        setenv("LIFTCAM_FIXTURES", root, 1)
        let badLabel = runTool(["demo", "--out", directory + "/demo"])
        XCTAssertEqual(badLabel.status, 1)
        XCTAssertTrue(badLabel.error.contains("manifest.csv") && badLabel.error.contains("line 3"), badLabel.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/demo"), "nothing written on failure")
    }

    /// The README's first command on the bundled model and images, when they are in the checkout
    /// (Fixtures/models/vgg_digits and Fixtures/data/digits): four reports with every affordable
    /// method, within the minute the issue allows.
    func testDemoOnTheBundledFixtures() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fixtures = repository.appendingPathComponent("Fixtures").path
        guard FileManager.default.fileExists(atPath: fixtures + "/models/vgg_digits/arch.json"),
              FileManager.default.fileExists(atPath: fixtures + "/data/digits/manifest.csv") else {
            throw XCTSkip("the bundled demo model and images are not in this checkout")
        }
        setenv("LIFTCAM_FIXTURES", fixtures, 1)
        let out = directory + "/demo"
        let start = Date()
        let run = runTool(["demo", "--out", out])
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertLessThan(seconds, 60)
        let folders = directoryListing(out).filter { $0 != "index.html" }
        XCTAssertEqual(folders.count, 4)
        let network = try Network(architecture: try Architecture.load(path: fixtures + "/models/vgg_digits/arch.json"),
                                  weights: try WeightDirectory(path: fixtures + "/models/vgg_digits/weights"))
        let mapCount = try network.split(at: network.architecture.defaultLayer)
            .activationShape(forInput: network.architecture.inputShape)[0]
        let expected = CAMMethod.allCases.filter { $0 != .shapExact || mapCount <= exactSHAPMaximumPlayers }
        for folder in folders {
            let report = try String(contentsOfFile: "\(out)/\(folder)/report.html", encoding: .utf8)
            for method in expected {
                XCTAssertTrue(report.contains("<b>\(method.rawValue)</b>"), "\(folder): \(method)")
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(folder)/\(method.rawValue)_overlay.png"))
            }
        }
        XCTAssertTrue(try String(contentsOfFile: out + "/index.html", encoding: .utf8).contains("Mean over the images"))
    }
}
