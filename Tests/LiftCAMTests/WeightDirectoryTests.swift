import Dispatch
import Foundation
import LiftCAM
import XCTest

/// A directory of one NPY file per state-dict key: reading it back, skipping integer step
/// counters, and the messages for missing, mis-shaped and unexpected tensors.
final class WeightDirectoryTests: PlatformTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "liftcam-weights-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: root)
    }

    private let conv = Tensor(shape: [2, 1, 2, 2], storage: (0..<8).map { Float($0) / 7 - 0.5 })
    private let bias = Tensor(shape: [2], storage: [0.25, -1e-8])

    /// A directory as export_torchvision.py leaves it, plus files that are not weights.
    private func makeDirectory() throws -> String {
        let path = root + "/nested/weights"
        try writeWeightDirectory(["features.0.weight": conv, "features.0.bias": bias], to: path)
        let files = FileManager.default
        try files.copyItem(atPath: fixture("i8_3.npy"), toPath: path + "/layer1.0.bn1.num_batches_tracked.npy")
        // float64, as numpy saves it: the first four values of f8_6.npy (whose fifth, 1e40, is past
        // Float32's range and refused, see testFloat64PastFloatRangeIsRefused).
        try Data(float64NPY([0, 1.0 / 7, 2.0 / 7, 3.0 / 7, 0.5, -1e-50])).write(to: URL(fileURLWithPath: path + "/layer1.0.bn1.running_var.npy"))
        try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/._features.0.weight.npy"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: path + "/README.txt"))
        return path
    }

    func testReadsEveryFloatFileAndSkipsIntegerStepCounters() throws {
        let path = try makeDirectory()
        let weights = try WeightDirectory(path: path)
        XCTAssertEqual(weights.path, path)
        XCTAssertEqual(weights.keys, ["features.0.bias", "features.0.weight", "layer1.0.bn1.running_var"])
        XCTAssertEqual(try weights.tensor("features.0.weight", shape: [2, 1, 2, 2]), conv)
        XCTAssertEqual(try weights.tensor("features.0.bias", shape: [2]).storage.map(\.bitPattern),
                       bias.storage.map(\.bitPattern))
        // float64 rounded to Float32 (-1e-50 underflows to -0).
        let runningVar = try weights.tensor("layer1.0.bn1.running_var", shape: [6])
        XCTAssertEqual(runningVar.storage.map(\.bitPattern),
                       [0, Float(1.0 / 7), Float(2.0 / 7), Float(3.0 / 7), 0.5, -0.0].map(\.bitPattern))
        XCTAssertEqual(weights.shape(of: "features.0.weight"), [2, 1, 2, 2])
        XCTAssertNil(weights.shape(of: "layer1.0.bn1.num_batches_tracked"))
    }

    func testMissingMisShapedAndUnexpectedTensorsAreNamed() throws {
        let path = try makeDirectory()
        let weights = try WeightDirectory(path: path)
        XCTAssertThrowsError(try weights.tensor("features.0.weight", shape: [2, 1, 3, 3])) {
            XCTAssertEqual("\($0)", "\(path)/features.0.weight.npy: expected shape [2, 1, 3, 3], found [2, 1, 2, 2]")
        }
        XCTAssertThrowsError(try weights.tensor("features.3.weight", shape: [64, 3, 3, 3])) {
            XCTAssertEqual("\($0)", "\(path): missing tensor features.3.weight.npy (expected shape [64, 3, 3, 3])")
        }
        XCTAssertEqual(weights.unusedKeys(requested: ["features.0.weight", "not.in.directory"]),
                       ["features.0.bias", "layer1.0.bn1.running_var"])
        XCTAssertEqual(weights.unusedKeys(requested: Set(weights.keys)), [])
    }

    func testTrailingSlashDoesNotDoubleInMessages() throws {
        let path = try makeDirectory() + "/"
        XCTAssertThrowsError(try WeightDirectory(path: path).tensor("features.0.bias", shape: [3])) {
            XCTAssertEqual("\($0)", "\(path)features.0.bias.npy: expected shape [3], found [2]")
        }
    }

    func testBadFilesAndDirectoriesAreRefusedByName() throws {
        let path = try makeDirectory()
        // An integer file under any other key is an error, not skipped.
        try FileManager.default.copyItem(atPath: fixture("i8_3.npy"), toPath: path + "/counts.npy")
        XCTAssertThrowsError(try WeightDirectory(path: path)) {
            XCTAssertEqual("\($0)", "\(path)/counts.npy: dtype '<i8' is not supported (only float32 '<f4' and float64 '<f8')")
        }
        try FileManager.default.removeItem(atPath: path + "/counts.npy")
        try FileManager.default.copyItem(atPath: fixture("f4_truncated.npy"), toPath: path + "/fc.weight.npy")
        XCTAssertThrowsError(try WeightDirectory(path: path)) {
            XCTAssertEqual("\($0)", "\(path)/fc.weight.npy: header says 10 float32 (40 bytes) but the file holds 32 bytes after the header")
        }

        XCTAssertThrowsError(try WeightDirectory(path: root + "/absent")) {
            XCTAssertEqual("\($0)", "\(root)/absent: no such directory")
        }
        XCTAssertThrowsError(try WeightDirectory(path: fixture("f4_scalar.npy"))) {
            XCTAssertEqual("\($0)", "\(fixture("f4_scalar.npy")): is not a directory")
        }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: false)
        XCTAssertThrowsError(try WeightDirectory(path: root + "/empty")) {
            XCTAssertEqual("\($0)", "\(root)/empty: no weights in this directory (expected one .npy file per state-dict key, e.g. features.0.weight.npy)")
        }
    }

    /// numpy's f8_6.npy holds 1e40, which becomes +infinity as Float32: a weight directory refuses
    /// it by file and position (an earlier version of this test read it as a running variance).
    func testFloat64PastFloatRangeIsRefused() throws {
        let path = try makeDirectory()
        try FileManager.default.copyItem(atPath: fixture("f8_6.npy"), toPath: path + "/layer2.0.bn1.running_var.npy")
        XCTAssertThrowsError(try WeightDirectory(path: path)) {
            XCTAssertEqual("\($0)", "\(path)/layer2.0.bn1.running_var.npy: element [4] (flat index 4) is +infinity; weights must be finite numbers")
        }
    }

    /// The bytes np.save writes for a 1-d float64 array: version 1.0, header padded to 64 bytes.
    private func float64NPY(_ values: [Double]) -> [UInt8] {
        var header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (\(values.count),), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    func testWriterRefusesKeysThatCannotBeFileNamesBeforeWritingAnything() {
        for key in ["", "a/b", ".hidden"] {
            XCTAssertThrowsError(try writeWeightDirectory(["fc.bias": bias, key: bias], to: root + "/out")) {
                XCTAssertEqual("\($0)", "\(root)/out: state-dict key \"\(key)\" cannot be a file name")
            }
            XCTAssertFalse(fileExists(root + "/out"))
        }
    }

    private func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/npy/\(name)").path
    }
}

/// Support/FileIO.swift: whole-file reads, atomic writes, directory listing and creation.
final class FileIOTests: PlatformTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "liftcam-fileio-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: root)
    }

    func testWriteThenReadBytesAndText() throws {
        var bytes = [UInt8]()
        for i in 0..<(3 << 20) { bytes.append(UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13)) }
        try writeFileAtomically(root + "/big.bin", bytes: bytes)
        XCTAssertEqual(try readFileBytes(root + "/big.bin"), bytes)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/big.bin")), Data(bytes))

        try writeFileAtomically(root + "/t.txt", text: "héllo\n")
        XCTAssertEqual(try readFileBytes(root + "/t.txt"), Array("héllo\n".utf8))
        try writeFileAtomically(root + "/t.txt", text: "")
        XCTAssertEqual(try readFileBytes(root + "/t.txt"), [])
        XCTAssertEqual(try listDirectory(root), ["big.bin", "t.txt"])  // no temporaries left
    }

    func testReadErrors() {
        XCTAssertThrowsError(try readFileBytes(root + "/none")) { XCTAssertEqual("\($0)", "\(root)/none: no such file") }
        XCTAssertThrowsError(try readFileBytes(root)) { XCTAssertEqual("\($0)", "\(root): is a directory") }
    }

    func testFailedWritesLeaveNothingBehind() throws {
        XCTAssertThrowsError(try writeFileAtomically(root + "/missing/x.txt", text: "a")) {
            XCTAssertEqual("\($0)", "\(root)/missing/x.txt: cannot create file: No such file or directory")
        }
        try makeDirectory(root + "/d")
        XCTAssertThrowsError(try writeFileAtomically(root + "/d", text: "a")) {
            XCTAssertEqual("\($0)", "\(root)/d: is a directory")
        }
        XCTAssertEqual(try listDirectory(root), ["d"])
        XCTAssertEqual(try listDirectory(root + "/d"), [])
    }

    /// Many threads replacing one file: each write is whole, and no temporary survives.
    func testConcurrentWritersNeverInterleave() throws {
        let path = root + "/shared.txt"
        let contents = (0..<8).map { String(repeating: String($0), count: 100_000) }
        let lock = NSLock()
        var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            do {
                try writeFileAtomically(path, text: contents[i % 8])
            } catch {
                lock.lock()
                errors.append("\(error)")
                lock.unlock()
            }
        }
        XCTAssertEqual(errors, [])
        let final = String(decoding: try readFileBytes(path), as: UTF8.self)
        XCTAssertTrue(contents.contains(final))
        XCTAssertEqual(try listDirectory(root), ["shared.txt"])
    }

    func testDirectories() throws {
        try makeDirectory(root + "/a/b/c/")
        try makeDirectory(root + "/a/b/c")  // exists already: fine
        XCTAssertTrue(isDirectory(root + "/a/b/c"))
        try writeFileAtomically(root + "/a/file", text: "x")
        try writeFileAtomically(root + "/a/B", text: "x")
        try writeFileAtomically(root + "/a/.hidden", text: "x")
        XCTAssertEqual(try listDirectory(root + "/a"), [".hidden", "B", "b", "file"])  // byte order
        XCTAssertTrue(fileExists(root + "/a/file"))
        XCTAssertFalse(isDirectory(root + "/a/file"))
        XCTAssertFalse(fileExists(root + "/a/none"))
        XCTAssertFalse(isDirectory(root + "/a/none"))
        XCTAssertThrowsError(try makeDirectory(root + "/a/file")) {
            XCTAssertEqual("\($0)", "\(root)/a/file: exists and is not a directory")
        }
        XCTAssertThrowsError(try makeDirectory(root + "/a/file/sub")) {
            XCTAssertEqual("\($0)", "\(root)/a/file: exists and is not a directory")
        }
        XCTAssertThrowsError(try listDirectory(root + "/none")) { XCTAssertEqual("\($0)", "\(root)/none: no such directory") }
        XCTAssertThrowsError(try listDirectory(root + "/a/file")) { XCTAssertEqual("\($0)", "\(root)/a/file: is not a directory") }
    }
}
