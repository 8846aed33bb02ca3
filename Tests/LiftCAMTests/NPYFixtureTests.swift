import Foundation
import LiftCAM
import XCTest

/// Files written by numpy 2.4 (Fixtures/npy/make_npy_fixtures.py states how each was made): the
/// reader must decode them to exactly the values numpy stored, refuse the unsupported ones with
/// their one-line reasons, and `encodeNPY` must reproduce np.save's bytes.
final class NPYFixtureTests: PlatformTestCase {
    /// (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 7, computed in float32 as numpy does.
    private let arangeValues: [Float] = (0..<24).map { (Float($0) - 11.5) / 7 }

    func testFloat32FilesDecodeToTheExactValuesNumpyWrote() throws {
        let tensor = try readNPY(path: fixture("f4_2x3x4.npy"))
        XCTAssertEqual(tensor.shape, [2, 3, 4])
        XCTAssertEqual(tensor.storage, arangeValues)  // exact: same float32 operations
        XCTAssertEqual(tensor[1, 2, 3], (23 - 11.5) / 7)  // row-major: the last element

        let special = try readNPY(path: fixture("f4_special.npy"))
        XCTAssertEqual(special.shape, [6])
        let expected: [Float] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.infinity, .nan]
        XCTAssertEqual(special.storage.map(\.bitPattern), expected.map(\.bitPattern))

        for version in [2, 3] {
            let name = "f4_v\(version).npy"
            XCTAssertEqual(try readNPYHeader(path: fixture(name)).majorVersion, version)
            XCTAssertEqual(try readNPY(path: fixture(name)), Tensor(shape: [3], storage: [0, 0.5, 1]), name)
        }
        XCTAssertEqual(try readNPY(path: fixture("f4_scalar.npy")), Tensor(shape: [], storage: [-1.25]))
        XCTAssertEqual(try readNPY(path: fixture("f4_empty_0x3.npy")), Tensor(shape: [0, 3], storage: []))
    }

    func testFloat64FileIsRoundedToFloat32() throws {
        // np.concatenate([np.arange(4) / 7, [1e40, -1e-50]]): 1e40 is past Float's range and
        // -1e-50 below its smallest subnormal, so they become inf and -0 as astype(np.float32) gives.
        let tensor = try readNPY(path: fixture("f8_6.npy"))
        let expected: [Float] = [0, Float(1.0 / 7), Float(2.0 / 7), Float(3.0 / 7), .infinity, -0.0]
        XCTAssertEqual(tensor.shape, [6])
        XCTAssertEqual(tensor.storage.map(\.bitPattern), expected.map(\.bitPattern))
    }

    func testDecodingBytesAgreesWithReadingTheFile() throws {
        for name in ["f4_2x3x4.npy", "f8_6.npy", "f4_v3.npy", "f4_scalar.npy", "f4_empty_0x3.npy"] {
            let bytes = try readFileBytes(fixture(name))
            let decoded = try decodeNPY(bytes, name: name)
            let read = try readNPY(path: fixture(name))
            XCTAssertEqual(decoded.shape, read.shape, name)
            XCTAssertEqual(decoded.storage.map(\.bitPattern), read.storage.map(\.bitPattern), name)
        }
    }

    func testEncodeReproducesNpSaveByteForByte() throws {
        let cases: [(String, Tensor)] = [
            ("f4_2x3x4.npy", Tensor(shape: [2, 3, 4], storage: arangeValues)),
            ("f4_scalar.npy", Tensor(shape: [], storage: [-1.25])),
            ("f4_empty_0x3.npy", Tensor(shape: [0, 3], storage: [])),
            // numpy's 20 spare header spaces make this header end exactly at byte 128, which numpy
            // then pads to 192: one space fewer or more would move the data.
            ("f4_rank14.npy", Tensor(shape: [2, 100] + [Int](repeating: 1, count: 12),
                                     storage: (0..<200).map { (Float($0) - 100) / 8 })),
            ("f4_special.npy", Tensor(shape: [6], storage: [0, -0.0, .leastNonzeroMagnitude,
                                                            .greatestFiniteMagnitude, -.infinity, .nan])),
        ]
        for (name, tensor) in cases {
            let encoded = encodeNPY(tensor)
            let saved = try readFileBytes(fixture(name))
            let firstDifference = zip(encoded, saved).enumerated().first { $1.0 != $1.1 }?.offset ?? min(encoded.count, saved.count)
            XCTAssertTrue(encoded == saved, "\(name): \(encoded.count) bytes, np.save wrote \(saved.count); first difference at byte \(firstDifference)")
        }
    }

    func testHeaderOfAnIntegerFileReportsItsDtype() throws {
        let header = try readNPYHeader(path: fixture("i8_3.npy"))
        XCTAssertEqual(header.dtype, "<i8")
        XCTAssertTrue(header.isIntegerDType)
        XCTAssertEqual(header.shape, [3])
        XCTAssertEqual(header.dataOffset, 128)
        XCTAssertEqual(header.majorVersion, 1)
        XCTAssertFalse(try readNPYHeader(path: fixture("f4_2x3x4.npy")).isIntegerDType)
    }

    func testRefusesUnsupportedNumpyFilesWithOneLineReasons() {
        let only = "(only float32 '<f4' and float64 '<f8')"
        let cases: [(String, String)] = [
            ("f4_big_endian.npy", "big-endian dtype '>f4' is not supported (only float32 '<f4' and float64 '<f8'; save with a.astype('<f4'))"),
            ("f4_fortran.npy", "fortran_order True is not supported (save a C-ordered array, e.g. np.ascontiguousarray(a))"),
            ("i8_3.npy", "dtype '<i8' is not supported \(only)"),
            ("object.npy", "object arrays (dtype '|O') hold pickled Python objects and are not supported \(only)"),
            ("f4_truncated.npy", "header says 10 float32 (40 bytes) but the file holds 32 bytes after the header"),
        ]
        for (name, message) in cases {
            let path = fixture(name)
            XCTAssertThrowsError(try readNPY(path: path)) { XCTAssertEqual("\($0)", "\(path): \(message)") }
            XCTAssertThrowsError(try decodeNPY(readFileBytes(path), name: name)) {
                XCTAssertEqual("\($0)", "\(name): \(message)")
            }
        }
    }

    private func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/npy/\(name)").path
    }
}
