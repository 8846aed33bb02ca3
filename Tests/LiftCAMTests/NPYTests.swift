import Foundation
import LiftCAM
import XCTest

/// NPY encoding round trips and the reader's handling of hand-made headers: every accepted
/// spelling of the header dict and every refusal, with its exact one-line message.
final class NPYTests: PlatformTestCase {
    // MARK: Round trips

    func testEncodeDecodeRoundTripKeepsEveryBit() throws {
        let special: [Float] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.infinity, .nan,
                                Float(bitPattern: 0x7FA0_0001)]  // a signalling NaN with payload
        let tensors = [
            Tensor(shape: [], storage: [-1.25]),
            Tensor(shape: [0, 3], storage: []),
            Tensor(shape: [special.count], storage: special),
            Tensor(shape: [2, 3, 4], storage: (0..<24).map { (Float($0) - 11.5) / 7 }),
            Tensor(shape: [1, 1, 1, 1, 7], storage: (0..<7).map { Float($0) * 1e-7 }),
        ]
        for tensor in tensors {
            let decoded = try decodeNPY(encodeNPY(tensor), name: "round.npy")
            XCTAssertEqual(decoded.shape, tensor.shape)
            XCTAssertEqual(decoded.storage.map(\.bitPattern), tensor.storage.map(\.bitPattern), "\(tensor.shape)")
        }
    }

    func testEncodedHeaderIsPaddedTo64BytesAndEndsInNewline() throws {
        for shape in [[], [5], [64, 3, 3, 3], [1000, 4096]] {
            let bytes = encodeNPY(Tensor(shape: shape))
            let header = try decodeNPYHeader(bytes, name: "h.npy")
            XCTAssertEqual(header.dataOffset % 64, 0, "\(shape)")
            XCTAssertEqual(bytes[header.dataOffset - 1], 0x0A, "\(shape)")
            XCTAssertEqual(Array(bytes[0..<8]), [0x93] + Array("NUMPY".utf8) + [1, 0])
            XCTAssertEqual(bytes.count, header.dataOffset + 4 * shape.product)
            XCTAssertEqual(header.shape, shape)
            XCTAssertEqual(header.dtype, "<f4")
            XCTAssertFalse(header.fortranOrder)
        }
    }

    func testWriteThenReadFileLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/t.npy"
        let tensor = Tensor(shape: [3, 2], storage: [1, -2, 3.5, 1e-30, 7, 0.1])
        try writeNPY(tensor, path: path)
        try writeNPY(tensor.reshaped([6]), path: path)  // replacing an existing file
        XCTAssertEqual(try readNPY(path: path), tensor.reshaped([6]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["t.npy"])
    }

    // MARK: Header spellings numpy never writes but the format allows

    func testHeaderKeysInAnyOrderQuotesSpacesAndTrailingCommas() throws {
        let data = floatBytes([1.5, -2, 0.25, 8])
        let spellings = [
            "{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4'}",
            "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,2)}\n",
            "{ 'fortran_order' : False , 'shape' : ( 2 , 2 , ) , 'descr' : '<f4' , }\t \n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }" + String(repeating: " ", count: 40) + "\n",
        ]
        for dict in spellings {
            let tensor = try decodeNPY(npyBytes(dict, data: data), name: "t.npy")
            XCTAssertEqual(tensor, Tensor(shape: [2, 2], storage: [1.5, -2, 0.25, 8]), dict)
        }
        for major: UInt8 in [2, 3] {
            let tensor = try decodeNPY(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", major: major, data: data), name: "t.npy")
            XCTAssertEqual(tensor.storage, [1.5, -2, 0.25, 8])
        }
    }

    func testFloat64IsRoundedToNearestFloat32() throws {
        let doubles: [Double] = [1.0 / 3.0, -2.5, .leastNormalMagnitude, 1e300, 16777217]  // 2^24 + 1 ties to even
        let data = doubles.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let tensor = try decodeNPY(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", data: data), name: "d.npy")
        XCTAssertEqual(tensor.storage, [Float(1.0 / 3.0), -2.5, 0, .infinity, 16777216])
    }

    // MARK: Refusals

    func testRefusesWhatIsNotAnNPYHeader() {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"
        assertRefused(Array("PK\u{3}\u{4}not numpy".utf8), "not an NPY file (it does not start with \\x93NUMPY)")
        assertRefused([], "not an NPY file (it does not start with \\x93NUMPY)")
        assertRefused([0x93] + Array("NUMPY".utf8), "the file ends inside the NPY header")
        assertRefused([0x93] + Array("NUMPY".utf8) + [1, 0, 60], "the file ends inside the NPY header")
        assertRefused(npyBytes(good, major: 4), "unsupported NPY format version 4.0 (only 1.0, 2.0 and 3.0)")
        assertRefused(npyBytes(good, minor: 1), "unsupported NPY format version 1.1 (only 1.0, 2.0 and 3.0)")
        var pastEnd = npyBytes(good)
        pastEnd[8] = 0xFF
        assertRefused(pastEnd, "NPY header length 255 runs past the end of the file (67 bytes)")
        let huge: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0, 0, 0x40] + Array(good.utf8)
        assertRefused(huge, "NPY header length 1073741824 is absurd (at most 1048576)")
    }

    func testRefusesMalformedHeaderDicts() {
        let cases: [(String, String)] = [
            ("'descr': '<f4'", "it does not start with '{'"),
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "duplicate key 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "text after the closing '}'"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}' after the value of 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "'shape' is not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 'a')}", "'shape' holds a non-integer"),
            ("{'descr': 4, 'fortran_order': False, 'shape': (1,)}", "'descr' is not a string"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "'fortran_order' is not True or False"),
            ("{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "unexpected 'f'"),
            ("{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}' after the value of 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", "it ends where a value was expected"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-,)}", "a sign without digits"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "integer 99999999999999999999 is absurdly large"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ((((((((((1,),),),),),),),),),)}", "nested too deeply"),
        ]
        for (dict, problem) in cases {
            assertRefused(npyBytes(dict, data: floatBytes([0])), "malformed NPY header (\(problem)): \(dict)")
        }
    }

    func testRefusesUnsupportedDtypesLayoutsAndShapes() {
        func header(_ descr: String, _ shape: String, fortran: String = "False") -> String {
            "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
        }
        let only = "(only float32 '<f4' and float64 '<f8')"
        assertRefused(npyBytes(header("'<i8'", "(1,)"), data: [UInt8](repeating: 0, count: 8)),
                      "dtype '<i8' is not supported \(only)")
        assertRefused(npyBytes(header("'<f2'", "(2,)"), data: [0, 0, 0, 0]), "dtype '<f2' is not supported \(only)")
        assertRefused(npyBytes(header("'>f4'", "(1,)"), data: floatBytes([1])),
                      "big-endian dtype '>f4' is not supported (only float32 '<f4' and float64 '<f8'; save with a.astype('<f4'))")
        assertRefused(npyBytes(header("'|O'", "(1,)"), data: [0x80]),
                      "object arrays (dtype '|O') hold pickled Python objects and are not supported \(only)")
        assertRefused(npyBytes(header("[('x', '<f4'), ('y', '<f4')]", "(1,)"), data: floatBytes([1, 2])),
                      "structured dtypes (a list as 'descr') are not supported \(only)")
        assertRefused(npyBytes(header("'<f4'", "(2, 2)", fortran: "True"), data: floatBytes([1, 2, 3, 4])),
                      "fortran_order True is not supported (save a C-ordered array, e.g. np.ascontiguousarray(a))")
        assertRefused(npyBytes(header("'<f4'", "(-3, 4)")), "negative dimension -3 in shape (-3, 4)")
        assertRefused(npyBytes(header("'<f4'", "(0, 3000000000)")),
                      "dimension 3000000000 in shape (0, 3000000000) is absurdly large")
        assertRefused(npyBytes(header("'<f4'", "(2000000000, 2000000000, 2000000000)")),
                      "the element count of shape (2000000000, 2000000000, 2000000000) overflows")
        let tooManyDimensions = "(" + String(repeating: "1, ", count: 65) + ")"
        assertRefused(npyBytes(header("'<f4'", tooManyDimensions), data: floatBytes([1])),
                      "shape has 65 dimensions (numpy allows at most 64)")
    }

    func testRefusesDataShorterOrLongerThanTheShapeSays() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }"
        assertRefused(npyBytes(dict, data: [UInt8](repeating: 0, count: 1000)),
                      "header says 3x224x224 float32 (602112 bytes) but the file holds 1000 bytes after the header")
        assertRefused(npyBytes(dict, data: [UInt8](repeating: 0, count: 602113)),
                      "header says 3x224x224 float32 (602112 bytes) but the file holds 602113 bytes after the header")
        assertRefused(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", data: floatBytes([1])),
                      "header says scalar float64 (8 bytes) but the file holds 4 bytes after the header")
    }

    /// A header claiming 10^12 float32 elements (4 TB) over 16 bytes of data must be refused by
    /// comparing sizes, before any allocation: allocating 4 TB would crash the test process.
    func testLyingHeaderFailsFastWithoutAllocating() throws {
        let bytes = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }",
                             data: floatBytes([1, 2, 3, 4]))
        let message = "header says 1000000x1000000 float32 (4000000000000 bytes) but the file holds 16 bytes after the header"
        let start = Date()
        assertRefused(bytes, message)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/lie.npy"))
        XCTAssertThrowsError(try readNPY(path: directory + "/lie.npy")) { error in
            XCTAssertEqual("\(error)", "\(directory)/lie.npy: \(message)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    }

    func testFileErrorsNameThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        XCTAssertThrowsError(try readNPY(path: directory + "/none.npy")) {
            XCTAssertEqual("\($0)", "\(directory)/none.npy: no such file")
        }
        XCTAssertThrowsError(try readNPY(path: directory)) { XCTAssertEqual("\($0)", "\(directory): is a directory") }
        XCTAssertThrowsError(try readNPYHeader(path: directory)) { XCTAssertEqual("\($0)", "\(directory): is a directory") }
        try Data([0x93, 0x4E]).write(to: URL(fileURLWithPath: directory + "/short.npy"))
        XCTAssertThrowsError(try readNPY(path: directory + "/short.npy")) {
            XCTAssertEqual("\($0)", "\(directory)/short.npy: not an NPY file (it does not start with \\x93NUMPY)")
        }
    }

    /// Corrupted files (every truncation, and seeded random byte changes in the header) must
    /// decode or throw a one-line error naming the file; never trap.
    func testCorruptedFilesThrowOneLineErrorsAndNeverTrap() {
        let valid = encodeNPY(Tensor(shape: [2, 3], storage: [1, 2, 3, 4, 5, 6]))
        var variants = (0..<valid.count).map { Array(valid[..<$0]) }
        var state: UInt64 = 42
        for _ in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var bytes = valid
            let position = Int(state >> 33) % 128  // within the header
            bytes[position] = UInt8(truncatingIfNeeded: state >> 13)
            variants.append(bytes)
        }
        var decodedCount = 0
        for bytes in variants {
            do {
                let tensor = try decodeNPY(bytes, name: "t.npy")
                XCTAssertEqual(tensor.count, tensor.shape.product)
                decodedCount += 1
            } catch {
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("t.npy: ") && !message.contains("\n"), message)
            }
        }
        // Some changes keep the file valid (a padding space made a tab, a digit of the data offset...).
        XCTAssertGreaterThan(decodedCount, 0)
        XCTAssertLessThan(decodedCount, variants.count - valid.count)
    }

    // MARK: Helpers

    private func assertRefused(_ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decodeNPY(bytes, name: "t.npy"), file: file, line: line) { error in
            XCTAssertEqual("\(error)", "t.npy: " + expected, file: file, line: line)
        }
    }
}

/// An NPY file with the given header dict text, written as is (no padding) after the prefix.
private func npyBytes(_ dict: String, major: UInt8 = 1, minor: UInt8 = 0, data: [UInt8] = []) -> [UInt8] {
    let text = Array(dict.utf8)
    let lengthBytes = major == 1 ? 2 : 4
    let length = (0..<lengthBytes).map { UInt8(truncatingIfNeeded: text.count >> (8 * $0)) }
    return [0x93] + Array("NUMPY".utf8) + [major, minor] + length + text + data
}

private func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "liftcam-npy-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
