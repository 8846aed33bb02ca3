import Foundation
import LiftCAM
import XCTest

/// liftcam.wasm (Scripts/build_wasm.sh: the core in Embedded Swift for wasm32, WASI platform layer)
/// run under the toolchain's wasmkit, against the native tool on the same files.
final class WebAssemblyTests: XCTestCase {
    /// Built once for the class, in a temporary folder.
    nonisolated(unsafe) static var module: String?
    nonisolated(unsafe) static var buildFailure = ""

    override class func setUp() {
        super.setUp()
        usePlatformServices()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-wasm-\(UUID().uuidString)/liftcam.wasm").path
        do {
            let build = try runChild(repositoryRoot + "/Scripts/build_wasm.sh", [output])
            if build.status == 0 { module = output } else { buildFailure = build.error + build.output }
        } catch {
            buildFailure = "\(error)"
        }
    }

    /// `wasmkit run --dir <granted> liftcam.wasm <arguments>` in the repository's root.
    func runWasm(_ arguments: [String], granting directories: [String] = ["."]) throws -> ChildRun {
        guard let module = Self.module else {
            XCTFail("Scripts/build_wasm.sh failed:\n\(Self.buildFailure)")
            throw XCTSkip("no module")
        }
        let grants = directories.flatMap { ["--dir", $0] }
        return try runChild(toolchainBin + "/wasmkit", ["run"] + grants + [module] + arguments)
    }

    static let fixtureNetworks = ["tiny_vgg", "vgg_digits", "vgg_bn_parity", "resnet_digits", "resnet_bottleneck_parity"]

    /// The fixture network's options with paths relative to the repository (for the module) or
    /// absolute (for the native tool, whose working directory the test does not choose).
    func networkArguments(_ name: String, absolute: Bool) -> [String] {
        let base = absolute ? repositoryRoot + "/" : ""
        return ["--arch", base + "Fixtures/models/\(name)/arch.json", "--weights", base + "Fixtures/models/\(name)/weights",
                "--input", base + "Fixtures/reference/\(name)/case0/input.npy"]
    }

    /// Every method's coefficients and maps, the logits and the split agree within 1e-5 relative.
    func assertSameExplanations(_ native: ChildRun, _ wasm: ChildRun, _ label: String) {
        XCTAssertEqual(native.status, 0, "\(label) native: \(native.error)")
        XCTAssertEqual(wasm.status, 0, "\(label) wasm: \(wasm.error)")
        let a = jsonObject(native.output), b = jsonObject(wasm.output)
        for key in ["layer", "target", "predicted", "class_name"] {
            XCTAssertEqual(a[key].map { "\($0)" }, b[key].map { "\($0)" }, "\(label): \(key)")
        }
        XCTAssertEqual(numbers(a["activation_shape"]), numbers(b["activation_shape"]), label)
        XCTAssertLessThanOrEqual(relativeDifference(numbers(a["logits"]), numbers(b["logits"])), 1e-5, "\(label): logits")
        let methodsA = a["methods"] as? [String: Any] ?? [:], methodsB = b["methods"] as? [String: Any] ?? [:]
        XCTAssertEqual(Set(methodsA.keys), Set(methodsB.keys), label)
        XCTAssertFalse(methodsA.isEmpty, label)
        for (method, value) in methodsA {
            let x = value as? [String: Any] ?? [:], y = methodsB[method] as? [String: Any] ?? [:]
            XCTAssertLessThanOrEqual(relativeDifference(numbers(x["coefficients"]), numbers(y["coefficients"])), 1e-5,
                                     "\(label) \(method): coefficients")
            let mapA = (x["cam"] as? [Any] ?? []).flatMap(numbers), mapB = (y["cam"] as? [Any] ?? []).flatMap(numbers)
            XCTAssertEqual(mapA.count, mapB.count, "\(label) \(method): map size")
            if mapA.count == mapB.count {
                XCTAssertLessThanOrEqual(relativeDifference(mapA, mapB), 1e-5, "\(label) \(method): map")
            }
        }
    }

    func testEveryMethodOnEveryFixtureNetworkMatchesTheNativeBuild() throws {
        let options = ["--method", "all", "--orderings", "20", "--seed", "5", "--json", "-"]
        // Two networks at a time: the interpreter is single-threaded and the machine has 2 cores.
        var runs = [ChildRun?](repeating: nil, count: Self.fixtureNetworks.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: Self.fixtureNetworks.count) { index in
            let name = Self.fixtureNetworks[index]
            let run = try? runWasm(["explain"] + networkArguments(name, absolute: false) + options)
            lock.withLock { runs[index] = run }
        }
        for (index, name) in Self.fixtureNetworks.enumerated() {
            let native = runNative(["explain"] + networkArguments(name, absolute: true) + options)
            let wasm = try XCTUnwrap(runs[index], name)
            assertSameExplanations(native, wasm, name)
        }
    }

    func testLayerTargetOrderingsAndSeedOptions() throws {
        let options = ["--layer", "features.10", "--target", "3", "--method", "shap,lime,lift,gradcampp",
                       "--orderings", "30", "--seed", "11", "--lime-samples", "40", "--json", "-"]
        let native = runNative(["explain"] + networkArguments("vgg_digits", absolute: true) + options)
        let wasm = try runWasm(["explain"] + networkArguments("vgg_digits", absolute: false) + options)
        assertSameExplanations(native, wasm, "vgg_digits features.10 target 3")
        XCTAssertEqual(jsonObject(wasm.output)["layer"] as? String, "features.10")
    }

    func testForwardPrintsTheSameLogits() throws {
        for name in ["tiny_vgg", "resnet_digits"] {
            let native = runNative(["forward"] + networkArguments(name, absolute: true))
            let wasm = try runWasm(["forward"] + networkArguments(name, absolute: false))
            XCTAssertEqual(wasm.status, 0, wasm.error)
            XCTAssertEqual(native.output, wasm.output, name)
        }
    }

    /// Absolute paths inside a directory granted by its absolute path, and a --json file written
    /// there (atomically: no temporary left).
    func testAbsolutePathsAndJSONFiles() throws {
        let folder = try XCTUnwrap(NSURL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("liftcam-wasm-out-\(UUID().uuidString)")).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let arguments = networkArguments("tiny_vgg", absolute: true) + ["--method", "lift,gradcam"]
        let wasm = try runWasm(["explain"] + arguments + ["--json", folder + "/wasm.json"],
                               granting: [repositoryRoot + "/Fixtures", folder])
        XCTAssertEqual(wasm.status, 0, wasm.error)
        XCTAssertTrue(wasm.output.contains("| lift |"), "the summary table: \(wasm.output)")
        let native = runNative(["explain"] + arguments + ["--json", folder + "/native.json"])
        XCTAssertEqual(native.status, 0, native.error)
        let written = try String(contentsOfFile: folder + "/wasm.json", encoding: .utf8)
        let expected = try String(contentsOfFile: folder + "/native.json", encoding: .utf8)
        assertSameExplanations(ChildRun(status: 0, output: expected, error: ""), ChildRun(status: 0, output: written, error: ""), "files")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["native.json", "wasm.json"])
        // A path outside every granted directory is refused by name.
        let outside = try runWasm(["forward"] + networkArguments("tiny_vgg", absolute: true), granting: [folder])
        XCTAssertEqual(outside.status, 1)
        XCTAssertEqual(outside.error, "liftcam forward: \(repositoryRoot)/Fixtures/models/tiny_vgg/arch.json: cannot read: not inside a directory granted with --dir\n")
    }

    /// Bad input: one line naming the file, exit 1, the same line as the native tool; usage errors
    /// exit 2 with the same text.
    func testBadInputGivesTheNativeErrors() throws {
        let cases: [[String]] = [
            networkArguments("tiny_vgg", absolute: false).dropLast(2) + ["--input", "Fixtures/npy/f4_truncated.npy"],
            networkArguments("tiny_vgg", absolute: false).dropLast(2) + ["--input", "Fixtures/npy/object.npy"],
            networkArguments("tiny_vgg", absolute: false).dropLast(2) + ["--input", "Fixtures/npy/f4_2x3x4.npy"],
            networkArguments("tiny_vgg", absolute: false).dropLast(2) + ["--input", "Fixtures/npy/missing.npy"],
            ["--arch", "Fixtures/models/tiny_vgg/arch.json", "--weights", "Fixtures/npy", "--input", "Fixtures/reference/tiny_vgg/case0/input.npy"],
            ["--arch", "Fixtures/npy/f4_v2.npy", "--weights", "Fixtures/models/tiny_vgg/weights", "--input", "x.npy"],
            networkArguments("tiny_vgg", absolute: false) + ["--method", "nonsense"],
            networkArguments("tiny_vgg", absolute: false) + ["--target", "-1"],
            networkArguments("tiny_vgg", absolute: false) + ["--layer", "features.99"],
            networkArguments("tiny_vgg", absolute: false) + ["--bogus"],
        ]
        // The native tool runs in the repository's root too, so both see the same relative paths.
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(repositoryRoot)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        for arguments in cases {
            let native = runNative(["explain"] + arguments)
            let wasm = try runWasm(["explain"] + arguments)
            XCTAssertNotEqual(native.status, 0, "\(arguments)")
            XCTAssertEqual(wasm.status, native.status, "\(arguments): \(wasm.error)")
            XCTAssertEqual(wasm.error, native.error, "\(arguments)")
            XCTAssertEqual(wasm.output, "", "\(arguments)")
            if native.status == 1 {
                XCTAssertEqual(wasm.error.filter { $0 == "\n" }.count, 1, "one line: \(wasm.error)")
            }
        }
        let corrupt = try runWasm(["explain"] + cases[0])
        XCTAssertTrue(corrupt.error.hasPrefix("liftcam explain: Fixtures/npy/f4_truncated.npy: "), corrupt.error)
    }
}
