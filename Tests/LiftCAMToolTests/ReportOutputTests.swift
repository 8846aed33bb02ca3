import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// `liftcam explain --out DIR`: the files per method and report.html, checked against the library
/// called directly (the input is a 12 × 12 PNG with --no-normalize, so x = p/255 exactly and the
/// overlay's base picture is the PNG itself).
final class ReportOutputTests: PlatformTestCase {
    var directory = ""
    var model: TinyModel!
    var picture: Image!
    var pngPath = ""
    let methods: [CAMMethod] = [.lift, .gradcam, .shapExact, .scorecam]

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
        model = try TinyModel(in: directory)
        picture = try testPicture(width: 12, height: 12, seed: 21)
        pngPath = directory + "/photo <&> '1'.png"   // a name that needs escaping in HTML
        try writeFileAtomically(pngPath, bytes: PNG.encode(picture))
    }

    override func tearDown() { removeTemporaryDirectory(directory) }

    func explain(target: Int, out: String) -> ToolRun {
        runTool(["explain"] + model.arguments + ["--input", pngPath, "--no-normalize", "--target", "\(target)",
                                                 "--method", methods.map(\.rawValue).joined(separator: ","), "--out", out])
    }

    /// Every file is written; the PNGs are exactly heatmapImage/overlay of the library's saliency
    /// (jet and viridis at 12 × 12), the .npy is exactly the map L [6, 6]; nothing else is left in
    /// the folder (no temporary files), and the folder was created, parents included.
    func testWritesEveryFileWithTheLibrarysPictures() throws {
        let out = directory + "/nested/report"
        let run = explain(target: 1, out: out)
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.contains("report: \(out)/report.html"), run.output)

        var expectedFiles = ["report.html"]
        for method in methods {
            expectedFiles += ["_cam.npy", "_jet.png", "_overlay.png", "_viridis.png"].map { method.rawValue + $0 }
        }
        XCTAssertEqual(directoryListing(out), expectedFiles.sorted())

        let explainer = try Explainer(network: model.network, input: expectedInput(of: picture, normalize: false))
        for method in methods {
            let name = method.rawValue
            let explanation = try explainer.explain(method, target: 1)
            let saliency = explanation.saliency.storage
            XCTAssertEqual(try readNPY(path: "\(out)/\(name)_cam.npy"), explanation.map, name)
            let jet = try PNG.decode(try readFileBytes("\(out)/\(name)_jet.png"))
            XCTAssertEqual(jet, try heatmapImage(saliency, width: 12, height: 12, colormap: .jet), name)
            let viridis = try PNG.decode(try readFileBytes("\(out)/\(name)_viridis.png"))
            XCTAssertEqual(viridis, try heatmapImage(saliency, width: 12, height: 12, colormap: .viridis), name)
            let overlaid = try PNG.decode(try readFileBytes("\(out)/\(name)_overlay.png"))
            XCTAssertEqual(overlaid, try overlay(saliency, on: picture, colormap: .jet), name)
            XCTAssertEqual([jet.width, jet.height, jet.channels, overlaid.width, overlaid.height], [12, 12, 3, 12, 12])
        }
    }

    /// report.html names every method, inlines the input and each method's overlay and heatmap as
    /// base64 PNGs (decoding to the written files), loads nothing from outside, escapes the class
    /// name, and shows this image's Y, O, D and AUCs as scoreExplanation gives them (to the 4
    /// decimals shown) and the coefficient summary (K, count of α > 0, largest α first).
    func testReportContentAgainstTheLibrary() throws {
        let out = directory + "/report"
        let run = explain(target: 1, out: out)
        XCTAssertEqual(run.status, 0, run.error)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)

        for method in methods {
            XCTAssertTrue(html.contains("<b>\(method.rawValue)</b>"), method.rawValue)
        }
        let pngs = inlinedPNGs(in: html)
        XCTAssertEqual(pngs.count, 1 + 2 * methods.count)
        XCTAssertEqual(try PNG.decode(pngs[0]), picture)
        for (index, method) in methods.enumerated() {
            XCTAssertEqual(pngs[1 + 2 * index], try readFileBytes("\(out)/\(method.rawValue)_overlay.png"))
            XCTAssertEqual(pngs[2 + 2 * index], try readFileBytes("\(out)/\(method.rawValue)_jet.png"))
        }
        for external in ["http:", "https:", "<script", "<link", "url("] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertTrue(html.contains("1 · dog &amp; &lt;fox&gt;"))
        XCTAssertFalse(html.contains("<fox>"))
        XCTAssertTrue(html.contains("<title>LiftCAM: photo &lt;&amp;&gt; &#39;1&#39;.png</title>"))
        XCTAssertFalse(html.contains("<&>"))
        XCTAssertTrue(html.contains("features.4"))
        XCTAssertTrue(html.contains("K = 6 maps of 6 × 6"))

        let explainer = try Explainer(network: model.network, input: expectedInput(of: picture, normalize: false))
        for method in methods {
            let explanation = try explainer.explain(method, target: 1)
            let scores = scoreExplanation(network: explainer.network, input: explainer.input, target: 1,
                                          saliency: explanation.saliency, box: nil)
            let rows = reportTableRows(html, header: method.rawValue)
            XCTAssertEqual(rows.count, 2, "a coefficient row and a faithfulness row for \(method.rawValue)")
            let shown = rows.last!.compactMap(Double.init)
            let expected = [scores.original, scores.explanation, scores.deletion, scores.insertionAUC, scores.deletionAUC]
            XCTAssertEqual(shown.count, 5, "no box, no pointing game: \(method.rawValue)")
            for (value, reference) in zip(shown, expected) {
                XCTAssertEqual(value, reference, accuracy: 5.1e-5, method.rawValue)
            }
            let alpha = explanation.coefficients
            let coefficientCells = rows.first!
            XCTAssertEqual(coefficientCells[1], "6", method.rawValue)
            XCTAssertEqual(coefficientCells[3], "\(alpha.filter { $0 > 0 }.count)", method.rawValue)
            let largest = alpha.indices.max { alpha[$0] != alpha[$1] ? alpha[$0] < alpha[$1] : $0 > $1 }!
            XCTAssertTrue(coefficientCells[6].hasPrefix("\(largest): "), "\(method.rawValue): \(coefficientCells[6])")
        }
    }

    /// Without metrics the report has no faithfulness section, and is otherwise complete.
    func testNoMetrics() throws {
        let out = directory + "/quick"
        let run = runTool(["explain"] + model.arguments + ["--input", pngPath, "--method", "lift", "--out", out, "--no-metrics"])
        XCTAssertEqual(run.status, 0, run.error)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertFalse(html.contains("Faithfulness"))
        XCTAssertEqual(inlinedPNGs(in: html).count, 3)
    }

    /// With --json - the report's location goes to standard error, so standard output stays JSON.
    func testJSONOnStandardOutputStaysParsable() throws {
        let out = directory + "/both"
        let run = runTool(["explain"] + model.arguments + ["--input", pngPath, "--method", "lift", "--out", out,
                                                           "--no-metrics", "--json", "-"])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertNotNil(try JSONValue.parse(run.output)["methods"]?["lift"])
        XCTAssertTrue(run.error.contains("report: \(out)/report.html"))
    }

    /// A failing run writes nothing: no output folder, no JSON file, no temporary file.
    func testFailedRunLeavesNoFiles() throws {
        let out = directory + "/never"
        let json = directory + "/never.json"
        for extra in [["--target", "3"], ["--layer", "features.99"], ["--method", "lift,nonsense"]] {
            let run = runTool(["explain"] + model.arguments + ["--input", pngPath, "--out", out, "--json", json] + extra)
            XCTAssertEqual(run.status, 1, "\(extra): \(run.error)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: json), "\(extra)")
        }
        XCTAssertEqual(directoryListing(directory).filter { $0.contains(".tmp-") }, [])
    }

    /// --out naming an existing file is a failure naming it.
    func testOutIsAFile() throws {
        let run = runTool(["explain"] + model.arguments + ["--input", pngPath, "--method", "lift", "--out", pngPath])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.error.contains(pngPath) && run.error.contains("not a directory"), run.error)
    }
}
