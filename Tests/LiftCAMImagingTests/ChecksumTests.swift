import Foundation
import LiftCAMImaging
import XCTest

/// CRC-32, Adler-32 and Base64 against published check values and naive twins.
final class ChecksumTests: XCTestCase {
    /// Published check values: CRC-32/ISO-HDLC of "123456789" is 0xCBF43926 (the CRC catalogue);
    /// Adler-32 of "Wikipedia" is 0x11E60398 (its worked example).
    func testKnownValues() {
        XCTAssertEqual(Checksum.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(Checksum.crc32([UInt8]()), 0)
        XCTAssertEqual(Checksum.crc32(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        XCTAssertEqual(Checksum.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(Checksum.adler32([UInt8]()), 1)
        // The CRC of PNG's IEND chunk type (with no data), present at the end of every PNG file.
        XCTAssertEqual(Checksum.crc32(Array("IEND".utf8)), 0xAE42_6082)
    }

    /// Bit-by-bit CRC (no table) and Adler-32 reduced after every byte: the definitions, slowly.
    func testAgainstNaiveTwins() {
        var rng = SeededGenerator(seed: 1)
        for count in [1, 7, 5551, 5552, 5553, 20000] {
            // All-0xFF input is the worst case for the deferred modulo of Adler-32.
            for data in [rng.bytes(count), [UInt8](repeating: 0xFF, count: count)] {
                var crc: UInt32 = 0xFFFF_FFFF
                var a: UInt32 = 1, b: UInt32 = 0
                for byte in data {
                    crc ^= UInt32(byte)
                    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
                    a = (a + UInt32(byte)) % 65521
                    b = (b + a) % 65521
                }
                XCTAssertEqual(Checksum.crc32(data), ~crc, "crc32 of \(count) bytes")
                XCTAssertEqual(Checksum.adler32(data), b << 16 | a, "adler32 of \(count) bytes")
                let split = count / 3
                XCTAssertEqual(Checksum.crc32Update(Checksum.crc32(data[..<split]), data[split...]), ~crc)
            }
        }
    }

    /// RFC 4648 §10 test vectors, then Foundation's encoder on random data of every length mod 3.
    func testBase64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors { XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded) }
        var rng = SeededGenerator(seed: 2)
        for count in 0..<70 {
            let data = rng.bytes(count)
            XCTAssertEqual(Base64.encode(data), Data(data).base64EncodedString(), "\(count) bytes")
        }
    }
}
