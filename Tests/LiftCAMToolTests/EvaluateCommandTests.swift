import Foundation
import LiftCAM
import LiftCAMImaging
import LiftCAMTool
import XCTest

/// A small dataset on disk for `liftcam evaluate`: a random-weight VGG (4 classes, input 24×24,
/// K = 10 maps of 6×6 at features.7), eight PNG images and two .npy tensors, and a manifest with
/// boxes (two images without one: empty fields, and x_max ≤ x_min).
final class EvaluationFixture {
    static let architectureJSON = #"{"family":"vgg","config":[6,"M",8,"M",10],"batch_norm":false,"pool":[2,2],"classifier":[16],"classes":4,"input":[3,24,24]}"#
    static let goodRows = [
        "img0.png,0,2,3,12,14", "img1.png,1,,,,", "img2.png,2,0,0,24,24", "img3.png,3,5,5,5,9", "img4.png,0,10,0,20,8",
        "img5.png,1,1,1,23,23", "img6.png,2,4,6,18,20", "img7.png,3,0,12,12,24", "t0.npy,1,6,6,18,18", "t1.npy,2,,,,",
    ]

    let root: String
    let arch: String, weights: String, data: String
    let network: Network

    init() throws {
        root = NSTemporaryDirectory() + "liftcam-evaluate-" + UUID().uuidString
        arch = root + "/arch.json"
        weights = root + "/weights"
        data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try EvaluationFixture.architectureJSON.write(toFile: arch, atomically: true, encoding: .utf8)
        let architecture = try Architecture.load(path: arch)
        try writeWeightDirectory(RandomWeights(seed: 7).stateDictionary(for: architecture), to: weights)
        network = try Network(architecture: architecture, weights: WeightDirectory(path: weights))
        for i in 0..<8 {
            var generator = SplitMix64(seed: 100 + UInt64(i))
            let pixels = (0..<(24 * 24 * 3)).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 56) }
            try Data(PNG.encode(Image(width: 24, height: 24, channels: 3, pixels: pixels))).write(to: URL(fileURLWithPath: "\(data)/img\(i).png"))
        }
        for i in 0..<2 {
            var generator = SplitMix64(seed: 200 + UInt64(i))
            let values = (0..<(3 * 24 * 24)).map { _ in Float(generator.next() >> 40) / Float(1 << 23) - 1 }
            try writeNPY(Tensor(shape: i == 0 ? [3, 24, 24] : [1, 3, 24, 24], storage: values), path: "\(data)/t\(i).npy")
        }
        try writeManifest(EvaluationFixture.goodRows)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func writeManifest(_ rows: [String]) throws {
        try (["file,label,x_min,y_min,x_max,y_max"] + rows).joined(separator: "\n").appending("\n")
            .write(toFile: data + "/manifest.csv", atomically: true, encoding: .utf8)
    }

    /// `liftcam evaluate` on this dataset with `--no-normalize` (so x = pixel/255, easy to rebuild).
    func evaluate(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        run(["evaluate", "--arch", arch, "--weights", weights, "--data", data, "--no-normalize"] + arguments)
    }

    func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let out = Captured(), err = Captured()
        let status = Tool.run(arguments, standardOutput: { out.append($0) }, standardError: { err.append($0) })
        return (status, out.text, err.text)
    }

    func json(_ path: String) throws -> JSONValue {
        try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
    }

    /// The network input of a manifest file, built here rather than by the tool: PNG pixels / 255
    /// in planar order, or the .npy tensor without its batch axis.
    func input(_ file: String) throws -> Tensor {
        let path = data + "/" + file
        if file.hasSuffix(".npy") {
            let tensor = try readNPY(path: path)
            return tensor.reshaped(Array(tensor.shape.suffix(3)))
        }
        let image = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        var x = Tensor(shape: [3, image.height, image.width])
        for p in 0..<(image.height * image.width) {
            for c in 0..<3 { x.storage[c * image.height * image.width + p] = Float(image.pixels[p * 3 + c]) / 255 }
        }
        return x
    }
}

/// Text written by the tool, collected across threads.
final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    func append(_ text: String) { lock.withLock { parts.append(text) } }
    var text: String { lock.withLock { parts.joined() } }
}

final class EvaluateCommandTests: PlatformTestCase {
    /// --literal: the metrics are those of the literal Explainer and its network (within 1e-12), and
    /// the JSON's config says so.
    func testLiteralEvaluationUsesTheLiteralPath() throws {
        let fixture = try EvaluationFixture()
        let out = fixture.root + "/literal.json"
        let result = fixture.evaluate(["--method", "lift", "--limit", "2", "--reference-orderings", "0", "--literal", "--json", out])
        XCTAssertEqual(result.status, 0, result.err)
        var y: [Double] = [], o: [Double] = []
        for row in EvaluationFixture.goodRows.prefix(2) {
            let file = String(row.split(separator: ",")[0])
            let explainer = try Explainer(network: fixture.network, input: try fixture.input(file), literal: true)
            let target = explainer.predictedClass
            let scores = scoreExplanation(network: explainer.network, input: explainer.input, target: target,
                                          saliency: try explainer.explain(.lift, target: target).saliency, box: nil)
            y.append(scores.original)
            o.append(scores.explanation)
        }
        let json = try fixture.json(out)
        XCTAssertEqual(json["config"]?["literal"], true)
        XCTAssertEqual(try XCTUnwrap(json["methods"]?["lift"]?["ad"]?.doubleValue), averageDrop(original: y, explanation: o),
                       accuracy: 1e-12)
    }

    /// The JSON's numbers against the same definitions computed here from the library's metric
    /// functions, image by image: Explainer → α (LIFT-CAM) → s(u(L)) → Y, O, D, curves, Eq 15, and
    /// the cosine to SHAP-CAM with 50 orderings (seed 0 + 1000003, the default reference seed). Agreement within 1e-12.
    func testMetricsEqualAnIndependentRecomputation() throws {
        let fixture = try EvaluationFixture()
        let out = fixture.root + "/out.json", perImage = fixture.root + "/out.jsonl"
        let result = fixture.evaluate(["--method", "lift,gradcam", "--reference-orderings", "50", "--json", out, "--per-image", perImage])
        XCTAssertEqual(result.status, 0, result.err)

        var y: [Double] = [], o: [Double] = [], d: [Double] = [], insertion: [Double] = [], deletion: [Double] = []
        var pointing: [Double] = [], cosines: [Double] = [], firstScores: ImageScores?
        for row in EvaluationFixture.goodRows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let explainer = try Explainer(network: fixture.network, input: try fixture.input(fields[0]))
            let target = explainer.predictedClass
            let explanation = try explainer.explain(.lift, target: target)
            let reference = try explainer.coefficients(.shap, target: target, options: MethodOptions(orderings: 50, seed: 1_000_003))
            let box = fields[2].isEmpty ? nil : BoundingBox(xMin: Int(fields[2])!, yMin: Int(fields[3])!, xMax: Int(fields[4])!, yMax: Int(fields[5])!)
            let scores = scoreExplanation(network: explainer.network, input: explainer.input, target: target,
                                          saliency: explanation.saliency, box: box)
            firstScores = firstScores ?? scores
            y.append(scores.original); o.append(scores.explanation); d.append(scores.deletion)
            insertion.append(areaUnderCurve(scores.insertionCurve)); deletion.append(areaUnderCurve(scores.deletionCurve))
            if let box, !box.isEmpty { pointing.append(energyPointingGame(saliency: explanation.saliency, box: box)) }
            cosines.append(cosineSimilarity(explanation.coefficients, reference))
        }
        XCTAssertEqual(pointing.count, 7)   // img1 has no box, img3's is empty, t1 has none
        let lift = try XCTUnwrap(fixture.json(out)["methods"]?["lift"])
        let expected: [(String, Double)] = [
            ("iic", increaseInConfidence(original: y, explanation: o)), ("ad", averageDrop(original: y, explanation: o)),
            ("add", averageDropInDeletion(original: y, deletion: d)),
            ("insertion_auc", insertion.reduce(0, +) / 10), ("deletion_auc", deletion.reduce(0, +) / 10),
            ("energy_pointing_game", pointing.reduce(0, +) / 7), ("cosine_to_shap", cosines.reduce(0, +) / 10),
        ]
        for (key, value) in expected {
            XCTAssertEqual(try XCTUnwrap(lift[key]?.doubleValue, key), value, accuracy: 1e-12, key)
        }
        XCTAssertEqual(try fixture.json(out)["images"], 10)
        XCTAssertEqual(try fixture.json(out)["skipped"], 0)

        // --per-image: one line per image and method, in manifest order, with the curves.
        let lines = try String(contentsOfFile: perImage, encoding: .utf8).split(separator: "\n").map { try JSONValue.parse(String($0)) }
        XCTAssertEqual(lines.count, 20)
        XCTAssertEqual(lines.map { $0["method"]?.stringValue }.prefix(4), ["lift", "gradcam", "lift", "gradcam"])
        XCTAssertEqual(lines[0]["file"], "img0.png")
        XCTAssertEqual(lines[0]["row"], 2)
        let first = try XCTUnwrap(firstScores)
        XCTAssertEqual(lines[0]["y"]?.doubleValue, first.original)
        XCTAssertEqual(lines[0]["insertion_curve"]?.arrayValue?.compactMap(\.doubleValue), first.insertionCurve)
        XCTAssertEqual(lines[0]["deletion_curve"]?.arrayValue?.compactMap(\.doubleValue), first.deletionCurve)
        XCTAssertEqual(lines[2]["energy_pointing_game"], .null)   // img1: no box

        // The table on standard output: one row per method with the JSON's numbers.
        XCTAssertTrue(result.out.hasPrefix("10 images; explaining the predicted class\n"), result.out)
        let liftRow = try XCTUnwrap(result.out.split(separator: "\n").first { $0.hasPrefix("| lift |") })
        XCTAssertTrue(liftRow.hasPrefix("| lift | \(String(format: "%.2f", expected[0].1)) | \(String(format: "%.2f", expected[1].1)) |"), String(liftRow))
    }

    /// Every kind of bad row is reported with its row number; the run stops before evaluating
    /// anything and writes nothing. With --skip-bad the good rows are evaluated and the bad counted.
    func testBadRowsAreReportedByRowAndStopTheRunUnlessSkipped() throws {
        let fixture = try EvaluationFixture()
        try writeNPY(Tensor(shape: [2, 24, 24]), path: fixture.data + "/wrong.npy")
        try fixture.writeManifest([
            "img0.png,0,2,3,12,14",      // row 2: good
            "img1.png,x,,,,",            // row 3
            "img2.png,4,,,,",            // row 4
            "img3.png,1,2,3",            // row 5
            "img4.png,1,a,0,5,5",        // row 6
            "img5.png,1,0,0,25,5",       // row 7
            "missing.png,1,,,,",         // row 8
            "notes.txt,1,,,,",           // row 9
            "img6.png,2,1,,3,4",         // row 10
            "wrong.npy,0,,,,",           // row 11
        ])
        let out = fixture.root + "/out.json", perImage = fixture.root + "/out.jsonl"
        let failed = fixture.evaluate(["--method", "lift", "--json", out, "--per-image", perImage])
        XCTAssertEqual(failed.status, 1)
        let problems = [
            "row 3: label 'x' is not an integer", "row 4: label 4 is out of range: the network has 4 classes (0…3)",
            "row 5: expected 6 fields", "row 6: x_min 'a' is not an integer", "row 7: x_max 25 is outside the network input",
            "row 8: missing.png: no such file", "row 9: notes.txt: unsupported file type", "row 10: y_min is empty",
            "row 11: wrong.npy: expected a tensor [3, H, W]",
        ]
        for problem in problems { XCTAssertTrue(failed.err.contains("manifest.csv " + problem), "\(problem)\n\(failed.err)") }
        XCTAssertTrue(failed.err.contains("9 bad rows"), failed.err)
        XCTAssertFalse(failed.err.contains("evaluate:  "), failed.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: perImage))
        XCTAssertEqual(failed.out, "")

        let skipped = fixture.evaluate(["--method", "lift", "--json", out, "--skip-bad", "--reference-orderings", "0"])
        XCTAssertEqual(skipped.status, 0, skipped.err)
        let json = try fixture.json(out)
        XCTAssertEqual(json["images"], 1)
        XCTAssertEqual(json["skipped"], 9)
        XCTAssertEqual(json["skipped_rows"]?.arrayValue?.compactMap { $0["row"]?.intValue }, Array(3...11))
        XCTAssertEqual(json["methods"]?["lift"]?["cosine_to_shap"], .null)   // --reference-orderings 0
        XCTAssertTrue(skipped.err.contains("skipped 9 bad rows"), skipped.err)
        XCTAssertTrue(skipped.out.hasPrefix("1 images, 9 skipped"), skipped.out)
    }

    /// An image that only fails when decoded stops the run mid-way with its row number and writes
    /// nothing; with --skip-bad it is counted like a bad row.
    func testUndecodableImageStopsTheRunWithoutOutput() throws {
        let fixture = try EvaluationFixture()
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: fixture.data + "/broken.png"))
        try fixture.writeManifest(["img0.png,0,,,,", "broken.png,1,,,,", "img1.png,1,,,,"])
        let out = fixture.root + "/out.json", perImage = fixture.root + "/out.jsonl"
        let failed = fixture.evaluate(["--method", "lift", "--reference-orderings", "0", "--json", out, "--per-image", perImage])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.err.contains("manifest.csv row 3: "), failed.err)
        XCTAssertTrue(failed.err.contains("broken.png: not a PNG, PPM or PGM image"), failed.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: perImage))

        let skipped = fixture.evaluate(["--method", "lift", "--reference-orderings", "0", "--json", out, "--skip-bad"])
        XCTAssertEqual(skipped.status, 0, skipped.err)
        XCTAssertEqual(try fixture.json(out)["images"], 2)
        XCTAssertEqual(try fixture.json(out)["skipped"], 1)
        XCTAssertEqual(try fixture.json(out)["per_image"]?.arrayValue?.compactMap { $0["row"]?.intValue }, [2, 4])
    }

    /// A manifest as spreadsheets write it: byte-order mark, CRLF line ends, quoted fields (one
    /// with a comma in the file name), a blank line; an unterminated quote is a bad row.
    func testManifestWithCRLFQuotesAndBlankLines() throws {
        let fixture = try EvaluationFixture()
        try FileManager.default.copyItem(atPath: fixture.data + "/img1.png", toPath: fixture.data + "/img,1.png")
        let manifest = "\u{FEFF}file,label,x_min,y_min,x_max,y_max\r\n\"img0.png\",0,1,1,5,5\r\n\r\n\"img,1.png\",\"1\",,,,\r\n"
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: fixture.data + "/manifest.csv"))
        let out = fixture.root + "/out.json"
        let result = fixture.evaluate(["--method", "lift", "--reference-orderings", "0", "--json", out])
        XCTAssertEqual(result.status, 0, result.err)
        let records = try XCTUnwrap(try fixture.json(out)["per_image"]?.arrayValue)
        XCTAssertEqual(records.compactMap { $0["row"]?.intValue }, [2, 4])
        XCTAssertEqual(records.compactMap { $0["file"]?.stringValue }, ["img0.png", "img,1.png"])
        XCTAssertEqual(records.compactMap { $0["label"]?.intValue }, [0, 1])

        try Data((manifest + "\"img2.png,2,,,,\r\n").utf8).write(to: URL(fileURLWithPath: fixture.data + "/manifest.csv"))
        let unterminated = fixture.evaluate(["--method", "lift", "--reference-orderings", "0"])
        XCTAssertEqual(unterminated.status, 1)
        XCTAssertTrue(unterminated.err.contains("manifest.csv row 5: unterminated quoted field"), unterminated.err)

        try Data("file;label\nimg0.png;0\n".utf8).write(to: URL(fileURLWithPath: fixture.data + "/manifest.csv"))
        let header = fixture.evaluate(["--method", "lift", "--skip-bad"])
        XCTAssertEqual(header.status, 1)   // a wrong header is not a bad row: nothing can be read
        XCTAssertTrue(header.err.contains("manifest.csv row 1: the header must be exactly file,label,x_min,y_min,x_max,y_max"), header.err)
    }

    /// Usage errors exit 2; an unknown method or an impossible request exits 1; neither writes.
    func testUsageErrorsAndUnknownMethods() throws {
        let fixture = try EvaluationFixture()
        let unknown = fixture.evaluate(["--method", "lift,bogus"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.err.contains("unknown method 'bogus'; known: lift,"), unknown.err)
        XCTAssertTrue(unknown.err.contains("shap:N"), unknown.err)
        XCTAssertEqual(fixture.evaluate(["--method", "shap:0"]).status, 1)
        XCTAssertEqual(fixture.evaluate(["--method", "lift", "--frobnicate"]).status, 2)
        XCTAssertEqual(fixture.evaluate(["--method", "lift", "--target", "best"]).status, 2)
        XCTAssertEqual(fixture.evaluate(["--method", "lift", "--shard", "3/3"]).status, 2)
        XCTAssertEqual(fixture.evaluate(["--method", "lift", "--limit", "0"]).status, 2)
        XCTAssertEqual(fixture.evaluate(["--method", "lift", "--per-image", "-"]).status, 2)
        XCTAssertEqual(fixture.run(["evaluate", "--method", "lift"]).status, 2)   // --arch, --weights, --data missing
        let noDirectory = fixture.evaluate(["--method", "lift", "--json", fixture.root + "/absent/out.json"])
        XCTAssertEqual(noDirectory.status, 1)
        XCTAssertTrue(noDirectory.err.contains("absent/out.json: cannot write: no directory"), noDirectory.err)
        XCTAssertEqual(fixture.run(["evaluate", "--help"]).status, 0)
    }

    /// --limit keeps the first N rows; --target label explains the manifest's label, predicted the
    /// network's argmax (checked against Explainer here).
    func testLimitAndTarget() throws {
        let fixture = try EvaluationFixture()
        let out = fixture.root + "/out.json"
        for mode in ["label", "predicted"] {
            let result = fixture.evaluate(["--method", "lift", "--limit", "4", "--target", mode, "--reference-orderings", "0", "--json", out])
            XCTAssertEqual(result.status, 0, result.err)
            let records = try XCTUnwrap(try fixture.json(out)["per_image"]?.arrayValue)
            XCTAssertEqual(records.compactMap { $0["index"]?.intValue }, [0, 1, 2, 3])
            for (record, row) in zip(records, EvaluationFixture.goodRows) {
                let fields = row.split(separator: ",", omittingEmptySubsequences: false)
                let predicted = try Explainer(network: fixture.network, input: fixture.input(String(fields[0]))).predictedClass
                XCTAssertEqual(record["predicted"]?.intValue, predicted)
                XCTAssertEqual(record["target"]?.intValue, mode == "label" ? Int(fields[1]) : predicted)
            }
        }
        // The labels 0, 1, 2, 3 cannot all be the predictions of these four images, or the test
        // above would not tell the modes apart.
        let predictions = try EvaluationFixture.goodRows.prefix(4).map {
            try Explainer(network: fixture.network, input: fixture.input(String($0.split(separator: ",")[0]))).predictedClass
        }
        XCTAssertNotEqual(predictions, [0, 1, 2, 3])
    }

    /// `all` runs every method through the pipeline (shap-exact included: K = 10 ≤ 20).
    func testAllMethods() throws {
        let fixture = try EvaluationFixture()
        let out = fixture.root + "/out.json"
        let result = fixture.evaluate(["--method", "all", "--limit", "2", "--orderings", "5", "--reference-orderings", "20", "--json", out])
        XCTAssertEqual(result.status, 0, result.err)
        let methods = try XCTUnwrap(try fixture.json(out)["methods"]?.objectValue)
        XCTAssertEqual(methods.map(\.0), CAMMethod.allCases.map(\.rawValue))
        for (name, summary) in methods {
            let ad = try XCTUnwrap(summary["ad"]?.doubleValue, name)
            XCTAssertTrue((0...100).contains(ad), "\(name): AD \(ad)")
            let cosine = try XCTUnwrap(summary["cosine_to_shap"]?.doubleValue, name)
            XCTAssertTrue((-1.0000001...1.0000001).contains(cosine), "\(name): cosine \(cosine)")
        }
        // Exact SHAP against 20 sampled orderings of the same game: close but not equal.
        let exactCosine = try XCTUnwrap(methods.first { $0.0 == "shap-exact" }?.1["cosine_to_shap"]?.doubleValue)
        XCTAssertGreaterThan(exactCosine, 0.5)
    }
}
