import LiftCAMImaging
import XCTest

/// Inflate against Python's zlib (levels 0-9: stored, fixed and dynamic blocks), our Deflate
/// through our Inflate, hand-made malformed streams, and a seeded fuzz.
final class InflateDeflateTests: XCTestCase {
    func testInflatesPythonZlibAtEveryLevel() throws {
        let expected = try Fixture.bytes("zlib/input.bin")
        for level in 0...9 {
            let compressed = try Fixture.bytes("zlib/level\(level).zlib")
            XCTAssertEqual(try Inflate.decompress(zlib: compressed), expected, "zlib level \(level)")
        }
    }

    func testDeflateRoundTrip() throws {
        var rng = SeededGenerator(seed: 3)
        let text = Array(String(repeating: "LIFT-CAM approximates SHAP values with DeepLIFT. ", count: 2000).utf8)
        let inputs: [[UInt8]] = [[], [7], [1, 2], rng.bytes(3), rng.bytes(1000), [UInt8](repeating: 9, count: 100_000),
                                 Array(text.prefix(65535)), Array(text.prefix(65536)), text, rng.bytes(70_000) + text]
        for input in inputs {
            for level in [PNGCompression.stored, .fixedHuffman] {
                let compressed = Deflate.compress(zlib: input, level: level)
                XCTAssertEqual(try Inflate.decompress(zlib: compressed), input, "\(input.count) bytes, \(level)")
            }
        }
        // Repeats exactly one window (32768) apart must be found; repeats farther apart cannot be.
        let window = rng.bytes(32768), wide = rng.bytes(40000)
        for input in [window + window + window, wide + wide] {
            XCTAssertEqual(try Inflate.decompress(zlib: Deflate.compress(zlib: input)), input)
        }
        XCTAssertLessThan(Deflate.compress(zlib: window + window + window).count, 32768 * 3 / 2)
        XCTAssertGreaterThan(Deflate.compress(zlib: wide + wide).count, 80000)
        // LZ77 must really find the repeats: a 100 kB text of one repeated sentence and a run of
        // one byte shrink below 2% (each 258-byte match costs about 2 bytes with the fixed code).
        XCTAssertLessThan(Deflate.compress(zlib: text).count, text.count / 50)
        XCTAssertLessThan(Deflate.compress(zlib: [UInt8](repeating: 9, count: 100_000)).count, 2000)
        // Stored: 2-byte header, 5 bytes per block of at most 65535 bytes, 4-byte Adler-32.
        XCTAssertEqual(Deflate.compress(zlib: text, level: .stored).count, text.count + 2 + 5 * 2 + 4)
    }

    /// Bits least significant first; Huffman codes are given as written in RFC 1951 (MSB first).
    struct Bits {
        var bytes: [UInt8] = [0x78, 0x9C]
        var used = 0
        mutating func put(_ value: Int, _ count: Int) {
            for i in 0..<count {
                if used % 8 == 0 { bytes.append(0) }
                bytes[bytes.count - 1] |= UInt8((value >> i) & 1) << UInt8(used % 8)
                used += 1
            }
        }
        mutating func code(_ value: Int, _ count: Int) { for i in (0..<count).reversed() { put((value >> i) & 1, 1) } }
    }

    func assertThrows(_ stream: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Inflate.decompress(zlib: stream), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }

    func testRejectsMalformedStreams() throws {
        let good = Deflate.compress(zlib: Array("hello hello hello".utf8))
        assertThrows([0x78], "shorter than its header")
        assertThrows([0x79, 0x9C] + good.dropFirst(2), "compression method")
        assertThrows([0x78, 0x9D] + good.dropFirst(2), "header check")
        assertThrows([0x78, 0xBB] + good.dropFirst(2), "preset dictionar")
        assertThrows(Array(good.dropLast()), "Adler-32")
        var corrupted = good
        corrupted[corrupted.count - 1] ^= 1
        assertThrows(corrupted, "Adler-32 mismatch")
        assertThrows(good + [0], "unexpected bytes after")
        assertThrows(Array(good.prefix(5)), "truncated")
        XCTAssertThrowsError(try Inflate.decompress(zlib: good, maxOutputCount: 16))   // the text is 17 bytes

        var reserved = Bits(); reserved.put(1, 1); reserved.put(3, 2)
        assertThrows(reserved.bytes, "reserved block type")
        var stored = Bits(); stored.put(1, 1); stored.put(0, 2); stored.put(5, 5); stored.put(3, 16); stored.put(3, 16)
        assertThrows(stored.bytes, "complement")
        // Fixed block whose first symbol is length 3 (code 257 = 0000001) at distance 1: nothing to copy yet.
        var far = Bits(); far.put(1, 1); far.put(1, 2); far.code(1, 7); far.code(0, 5)
        assertThrows(far.bytes, "reaches before the start")
        // Distance symbol 30 does not exist (fixed 5-bit code 11110).
        var badDistance = Bits(); badDistance.put(1, 1); badDistance.put(1, 2); badDistance.code(0x30 + 65, 8)
        badDistance.code(1, 7); badDistance.code(30, 5)
        assertThrows(badDistance.bytes, "invalid distance symbol")
        // Dynamic block whose code-length code gives three symbols length 1: over-subscribed.
        var over = Bits(); over.put(1, 1); over.put(2, 2); over.put(0, 5); over.put(0, 5); over.put(0, 4)
        for _ in 0..<3 { over.put(1, 3) }
        over.put(0, 3)
        assertThrows(over.bytes, "over-subscribed")
        // Dynamic block that starts its code lengths with "repeat previous" (16).
        var repeatFirst = Bits(); repeatFirst.put(1, 1); repeatFirst.put(2, 2); repeatFirst.put(0, 5); repeatFirst.put(0, 5)
        repeatFirst.put(0, 4); repeatFirst.put(1, 3); repeatFirst.put(1, 3); repeatFirst.put(0, 3); repeatFirst.put(0, 3)
        repeatFirst.code(0, 1); repeatFirst.put(0, 2)   // symbol 16 has code 0, symbol 17 code 1
        assertThrows(repeatFirst.bytes, "no previous length")
    }

    /// 2,000 seeded damaged copies of valid streams (flipped bytes or truncation): each must
    /// decompress or throw; a crash or hang fails the whole test run.
    func testFuzzNeverTraps() {
        var rng = SeededGenerator(seed: 4)
        let text = Array(String(repeating: "gradient times input, ", count: 60).utf8) + rng.bytes(300)
        let seeds = [Deflate.compress(zlib: text), Deflate.compress(zlib: text, level: .stored)]
            + ((try? (0...9).map { try Fixture.bytes("zlib/level\($0).zlib") }) ?? [])
        var threw = 0
        for round in 0..<2000 {
            var stream = seeds[round % seeds.count]
            if round % 4 == 3 {
                stream = Array(stream.prefix(Int.random(in: 0..<stream.count, using: &rng)))
            } else {
                for _ in 0...Int.random(in: 0...3, using: &rng) {
                    stream[Int.random(in: 0..<stream.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            }
            do { _ = try Inflate.decompress(zlib: stream, maxOutputCount: 1 << 20) } catch { threw += 1 }
        }
        XCTAssertGreaterThan(threw, 1900, "almost every damaged stream must be detected (Adler-32 at the latest)")
    }
}
