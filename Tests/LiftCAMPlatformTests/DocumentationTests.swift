import Foundation
import XCTest

/// The API documentation (issue 14): every public symbol of the three library modules has a doc
/// comment, and Scripts/build_docs.sh turns them into DocC archives with the toolchain's docc.
final class DocumentationTests: XCTestCase {
    let modules = ["LiftCAMCore", "LiftCAM", "LiftCAMImaging"]

    /// Reads the symbol graphs the compiler extracts from the release build (the one `swift test
    /// -c release` has just made) and lists every public symbol written in our sources without a
    /// doc comment. Symbols the compiler synthesises (`hashValue`, `==` of a derived Equatable)
    /// have no place in the sources and are not counted; protocol witnesses inherit their
    /// requirement's comment, as DocC shows them.
    func testEveryPublicSymbolHasADocComment() throws {
        let graphs = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-symbols-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: graphs) }
        var undocumented: [String] = []
        for module in modules {
            let folder = graphs.appendingPathComponent(module)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let extract = try runChild(toolchainBin + "/swift-symbolgraph-extract",
                                       ["-module-name", module, "-I", repositoryRoot + "/.build/release/Modules",
                                        "-target", try hostTriple(), "-minimum-access-level", "public",
                                        "-output-dir", folder.path])
            XCTAssertEqual(extract.status, 0, extract.error)
            let data = try Data(contentsOf: folder.appendingPathComponent("\(module).symbols.json"))
            let graph = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            let symbols = try XCTUnwrap(graph["symbols"] as? [[String: Any]])
            XCTAssertGreaterThan(symbols.count, 20, module)
            for symbol in symbols where symbol["docComment"] == nil {
                guard let location = symbol["location"] as? [String: Any], let uri = location["uri"] as? String,
                      uri.contains("/Sources/") else { continue }
                let path = (symbol["pathComponents"] as? [String] ?? []).joined(separator: ".")
                let line = ((location["position"] as? [String: Any])?["line"] as? Int).map { $0 + 1 } ?? 0
                undocumented.append("\(uri.components(separatedBy: "/Sources/").last ?? uri):\(line) \(path)")
            }
        }
        XCTAssertEqual(undocumented, [], "public symbols without a doc comment:\n" + undocumented.joined(separator: "\n"))
    }

    /// The script a reader runs (README, "API documentation") writes an archive per module, with
    /// the landing page and a page per symbol, ready for a static file server.
    func testBuildDocsScriptWritesTheArchives() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-docs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try runChild("/bin/bash", [repositoryRoot + "/Scripts/build_docs.sh", out, "--no-build"])
        XCTAssertEqual(run.status, 0, run.output + run.error)
        for module in modules {
            let archive = "\(out)/\(module).doccarchive"
            let page = "\(archive)/documentation/\(module.lowercased())/index.html"
            XCTAssertTrue(FileManager.default.fileExists(atPath: page), page)
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(archive)/data/documentation/\(module.lowercased()).json"))
            XCTAssertGreaterThan(data.count, 1000, module)
        }
        let explainer = "\(out)/LiftCAMCore.doccarchive/data/documentation/liftcamcore/explainer.json"
        let text = try String(contentsOfFile: explainer, encoding: .utf8)
        XCTAssertTrue(text.contains("answers any method for any class"), "the Explainer page carries its doc comment")
        let landing = try String(contentsOfFile: "\(out)/LiftCAMCore.doccarchive/data/documentation/liftcamcore.json", encoding: .utf8)
        XCTAssertTrue(landing.contains("Explaining a prediction"), "the landing page from Documentation/LiftCAMCore.docc")
    }

    /// The target triple of this machine, as the compiler names it.
    private func hostTriple() throws -> String {
        let info = try runChild(toolchainBin + "/swiftc", ["-print-target-info"])
        let object = try JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any]
        return try XCTUnwrap((object?["target"] as? [String: Any])?["triple"] as? String)
    }
}
