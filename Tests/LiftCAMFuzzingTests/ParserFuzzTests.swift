import Foundation
import LiftCAM
import LiftCAMFuzzing
import LiftCAMImaging
import XCTest

/// Every parser on seeded mutations of valid files, in-process: each case ends in a valid result
/// or a one-line error naming the file within 1 s, and the run's peak memory stays bounded.
/// LIFTCAM_FUZZ_CASES=N runs N cases per parser instead of the CI's 20 000 (or use liftcam-fuzz).
final class ParserFuzzTests: PlatformTestCase {
    static let seed: UInt64 = 20_211_011
    static var cases: Int { ProcessInfo.processInfo.environment["LIFTCAM_FUZZ_CASES"].flatMap(Int.init) ?? 20_000 }
    private static let workspace = try! FuzzWorkspace()

    /// Runs one parser and checks the rules; prints the summary line the README table quotes.
    private func fuzz(_ name: String, minimumKinds: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let target = try FuzzTargets.make(name, seed: Self.seed, workspace: Self.workspace)
        let summary = runFuzz(target, seed: Self.seed, cases: Self.cases, timeLimit: 1)
        print("fuzz: \(summary.line)")
        XCTAssertEqual(summary.cases, Self.cases, file: file, line: line)
        for failure in summary.failures.prefix(10) { XCTFail("\(failure)", file: file, line: line) }
        // The mutations must reach both outcomes and many different checks, or the run proves little.
        XCTAssertGreaterThan(summary.accepted, Self.cases / 100, "too few valid cases", file: file, line: line)
        XCTAssertGreaterThan(summary.refused, Self.cases / 4, "too few refusals", file: file, line: line)
        XCTAssertGreaterThanOrEqual(summary.errorKinds.count, minimumKinds, "\(summary.errorKinds.keys.sorted())", file: file, line: line)
        XCTAssertLessThan(summary.peakMemoryGrowthKiB, 256 * 1024, "peak memory grew by \(summary.peakMemoryGrowthKiB) KiB", file: file, line: line)
    }

    func testNPY() throws { try fuzz("npy", minimumKinds: 40) }
    func testPNG() throws { try fuzz("png", minimumKinds: 40) }
    func testPNM() throws { try fuzz("pnm", minimumKinds: 15) }
    func testArchitectureJSON() throws { try fuzz("json", minimumKinds: 40) }
    func testManifest() throws { try fuzz("manifest", minimumKinds: 20) }
    func testONNX() throws { try fuzz("onnx", minimumKinds: 40) }
    func testONNXGraph() throws { try fuzz("onnx-graph", minimumKinds: 20) }

    /// A case is a function of (seed, index) alone: replaying case i gives the same bytes without
    /// running the cases before it, and a different seed gives different cases.
    func testCasesReplayFromSeedAndIndex() throws {
        for name in FuzzTargets.names {
            let target = try FuzzTargets.make(name, seed: 9, workspace: Self.workspace)
            let again = try FuzzTargets.make(name, seed: 9, workspace: Self.workspace)
            let first = (0..<50).map { target.input(seed: 9, index: $0) }
            XCTAssertEqual(first, (0..<50).map { again.input(seed: 9, index: $0) }, name)
            XCTAssertEqual(target.input(seed: 9, index: 37), first[37], name)
            XCTAssertNotEqual(first, (0..<50).map { target.input(seed: 10, index: $0) }, name)
            XCTAssertGreaterThan(Set(first).count, 40, "\(name): cases barely differ")
        }
    }
}

/// Headers that claim far more data than the file holds are refused before anything that size is
/// allocated: the exact message, and the process's peak memory does not grow by the claim.
final class AllocationLimitTests: PlatformTestCase {
    /// Runs `body`, which must throw `message`, and checks the peak resident size grew < 64 MiB.
    private func assertRefusedCheaply(_ message: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        let before = peakResidentKiB()
        XCTAssertThrowsError(try body(), file: file, line: line) { XCTAssertEqual("\($0)", message, file: file, line: line) }
        XCTAssertLessThan(peakResidentKiB() - before, 64 * 1024, "peak memory grew", file: file, line: line)
    }

    private func npy(shape: String, dataBytes: Int = 16) -> [UInt8] {
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + header + [UInt8](repeating: 0, count: dataBytes)
    }

    func testNPYHeadersClaimingTeraElements() throws {
        assertRefusedCheaply("t.npy: header says 1000000x1000000 float32 (4000000000000 bytes) but the file holds 16 bytes after the header") {
            _ = try decodeNPY(npy(shape: "(1000000, 1000000)"), name: "t.npy")
        }
        assertRefusedCheaply("t.npy: the element count of shape (2147483647, 2147483647, 2147483647) overflows") {
            _ = try decodeNPY(npy(shape: "(2147483647, 2147483647, 2147483647)"), name: "t.npy")
        }
        assertRefusedCheaply("t.npy: dimension 1000000000000 in shape (1000000000000,) is absurdly large") {
            _ = try decodeNPY(npy(shape: "(1000000000000,)"), name: "t.npy")
        }
        assertRefusedCheaply("t.npy: negative dimension -4 in shape (3, -4)") { _ = try decodeNPY(npy(shape: "(3, -4)"), name: "t.npy") }
        // Through a file too: the reader sizes its buffer from the checked header only.
        let path = NSTemporaryDirectory() + "liftcam-tera-\(UUID().uuidString).npy"
        defer { unlink(path) }
        try writeFileAtomically(path, bytes: npy(shape: "(1000000, 1000000)"))
        assertRefusedCheaply("\(path): header says 1000000x1000000 float32 (4000000000000 bytes) but the file holds 16 bytes after the header") {
            _ = try readNPY(path: path)
        }
    }

    /// An IHDR of 8192 × 8192 RGBA (256 MiB of pixels, within the limit) over a few bytes of
    /// data: refused when the data run out, before the pixel buffer exists.
    func testPNGClaimingHugeDimensions() {
        func png(width: UInt32, height: UInt32) -> [UInt8] {
            func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
                let body = Array(type.utf8) + data
                let crc = Checksum.crc32(body)
                return withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init) + body + withUnsafeBytes(of: crc.bigEndian, Array.init)
            }
            let ihdr = withUnsafeBytes(of: width.bigEndian, Array.init) + withUnsafeBytes(of: height.bigEndian, Array.init) + [8, 6, 0, 0, 0]
            return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
                + chunk("IDAT", Deflate.compress(zlib: [UInt8](repeating: 0, count: 100))) + chunk("IEND", [])
        }
        assertRefusedCheaply("PNG: image data is 100 bytes, shorter than the 268443648 the header implies") { _ = try PNG.decode(png(width: 8192, height: 8192)) }
        assertRefusedCheaply("PNG: size 100000x100000 exceeds the limit of 67108864 pixels") { _ = try PNG.decode(png(width: 100_000, height: 100_000)) }
        assertRefusedCheaply("PNG: invalid size 4294967295x1 in IHDR") { _ = try PNG.decode(png(width: .max, height: 1)) }
    }

    func testPNMClaimingHugeSizes() {
        assertRefusedCheaply("PNM: raster is 7 bytes, 8192x8192 needs 201326592") { _ = try PNM.decode(Array("P6 8192 8192 255\n".utf8) + [1, 2, 3, 4, 5, 6]) }
        assertRefusedCheaply("PNM: size 99999x99999 exceeds the limit of 67108864 pixels") { _ = try PNM.decode(Array("P5 99999 99999 255\n".utf8)) }
        assertRefusedCheaply("PNM: width is too large") { _ = try PNM.decode(Array("P6 99999999999999 1 255\n".utf8)) }
        assertRefusedCheaply("PNM: raster is 5 bytes, 1000x1000 needs 1000000") { _ = try PNM.decode(Array("P2 1000 1000 255\n1 2\n".utf8)) }
    }

    func testArchitecturesClaimingHugeChannelCounts() {
        func decode(_ json: String) throws { _ = try Architecture.decode(Array(json.utf8), name: "a.json") }
        assertRefusedCheaply("a.json: 'config' is too large: a weight tensor would have 2533274790395904 elements (at most 2147483648)") {
            try decode(#"{"family": "vgg", "config": [16777216, 16777216, 16777216], "classifier": [8], "classes": 3, "input": [3, 12, 12]}"#)
        }
        assertRefusedCheaply("a.json: 'classes' must be a positive integer") {
            try decode(#"{"family": "vgg", "config": [4], "classes": 1000000000000}"#)
        }
        assertRefusedCheaply("a.json: 'width' is too large: a weight tensor would have 2466250752 elements (at most 2147483648)") {
            try decode(#"{"family": "resnet", "block": "bottleneck", "layers": [1, 1, 1, 1], "width": 16777216}"#)
        }
    }
}
