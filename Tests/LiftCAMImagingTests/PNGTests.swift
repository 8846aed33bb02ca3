import LiftCAMImaging
import XCTest

/// PNG decoding against files written by Pillow / numpy (pixels verified with Pillow by the
/// generator), round trips through our encoder, refusal of damaged files, and a seeded fuzz.
final class PNGTests: XCTestCase {
    func testDecodesEveryReferenceExactly() throws {
        let manifest = try Fixture.table("png/manifest.txt")
        XCTAssertEqual(manifest.count, 27)
        for entry in manifest {
            let (name, width, height, channels) = (entry[0], Int(entry[1])!, Int(entry[2])!, Int(entry[3])!)
            let image = try PNG.decode(try Fixture.bytes("png/\(name).png"))
            XCTAssertEqual([image.width, image.height, image.channels], [width, height, channels], name)
            XCTAssertEqual(image.pixels, try Fixture.bytes("png/expected/\(entry[4]).bin"), name)
        }
    }

    /// `rgb()` and `gray()` against Pillow's convert("RGB") and convert("L").
    func testConversionsMatchPillow() throws {
        let rgba = try PNG.decode(try Fixture.bytes("png/rgba8.png"))
        XCTAssertEqual(rgba.rgb().pixels, try Fixture.bytes("png/expected/rgba8_pillow_RGB.bin"))
        let rgb = try PNG.decode(try Fixture.bytes("png/rgb8.png"))
        XCTAssertEqual(rgb.gray().pixels, try Fixture.bytes("png/expected/rgb8_pillow_L.bin"))
        let gray = try Image(width: 2, height: 1, channels: 1, pixels: [5, 200])
        XCTAssertEqual(gray.rgb().pixels, [5, 5, 5, 200, 200, 200])
        XCTAssertEqual(try Image(width: 1, height: 1, channels: 3, pixels: [255, 0, 0]).gray().pixels, [76])   // 0.299·255
    }

    func testRoundTripBothCompressions() throws {
        var rng = SeededGenerator(seed: 5)
        for (width, height) in [(1, 1), (1, 7), (7, 1), (13, 5), (64, 33), (300, 2)] {
            for channels in [1, 3, 4] {
                let image = try rng.image(width: width, height: height, channels: channels)
                for compression in [PNGCompression.stored, .fixedHuffman] {
                    let png = PNG.encode(image, compression: compression)
                    XCTAssertEqual(try PNG.decode(png), image, "\(width)x\(height)x\(channels) \(compression)")
                }
            }
        }
        // Filtering + LZ77 pays off on a smooth image: well under the stored size.
        let smooth = try Image(width: 64, height: 64, channels: 3, pixels: (0..<64 * 64 * 3).map { UInt8(truncatingIfNeeded: $0 / 3 % 64 + $0 / 192) })
        XCTAssertLessThan(PNG.encode(smooth).count, PNG.encode(smooth, compression: .stored).count / 5)
    }

    func assertRefused(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PNG.decode(bytes), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }

    func testRefusesDamagedFiles() throws {
        assertRefused(try Fixture.bytes("png/corrupt_crc.png"), "PNG: CRC mismatch in chunk IDAT")
        let good = try Fixture.bytes("png/rgb8.png")
        assertRefused(Array(good.prefix(7)), "bad signature")
        assertRefused([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0B] + good.dropFirst(8), "bad signature")
        assertRefused(Array(good.prefix(8)), "missing IHDR")
        assertRefused(Array(good.prefix(40)), "truncated")
        assertRefused(Array(good.dropLast(12)), "missing IEND")

        let chunks = PNGBuilder.chunks(PNG.encode(try Image(width: 5, height: 4, channels: 3, repeating: 90)))
        let idat = chunks.first { $0.0 == "IDAT" }!
        func header(_ w: UInt32, _ h: UInt32, _ depth: UInt8 = 8, _ type: UInt8 = 2, interlace: UInt8 = 0) -> [UInt8] {
            Array(PNGBuilder.header(width: w, height: h, depth: depth, colorType: type, interlace: interlace).dropFirst(8).dropLast(4))
        }
        func file(_ ihdr: [UInt8], _ rest: [(String, [UInt8])]) -> [UInt8] { PNGBuilder.assemble([("IHDR", ihdr)] + rest) }
        let end = ("IEND", [UInt8]())
        assertRefused(PNGBuilder.assemble([idat, end]), "first chunk is IDAT")
        assertRefused(file(header(5, 4), [end]), "no IDAT")
        assertRefused(file(header(0, 4), [idat, end]), "invalid size")
        assertRefused(file(header(100_000, 100_000), [idat, end]), "exceeds the limit")
        assertRefused(file(header(5, 4, 3), [idat, end]), "bit depth 3")
        assertRefused(file(header(5, 4, 8, 5), [idat, end]), "colour type 5")
        assertRefused(file(header(5, 4, interlace: 2), [idat, end]), "interlace method")
        assertRefused(file(Array(header(5, 4).dropLast()), [idat, end]), "not 13")
        assertRefused(file(header(5, 4, 8, 3), [idat, end]), "without a PLTE")
        assertRefused(file(header(5, 5), [idat, end]), "shorter than")
        assertRefused(file(header(5, 3), [idat, end]), "more than the expected")
        assertRefused(file(header(5, 4), [idat, ("tEXt", [65, 0, 66]), idat, end]), "not consecutive")
        assertRefused(file(header(5, 4), [("ABCD", []), idat, end]), "unknown critical chunk ABCD")
        // Valid compression around a bad filter type (5) on the second of two 1-pixel scanlines.
        let badFilter = Deflate.compress(zlib: [0, 1, 2, 3, 5, 4, 5, 6])
        assertRefused(file(header(1, 2), [("IDAT", badFilter), end]), "invalid filter type 5 on scanline 1")
        // A palette of 2 entries with a pixel using index 3.
        let paletteFile = file(header(1, 1, 8, 3), [("PLTE", [1, 2, 3, 4, 5, 6]), ("IDAT", Deflate.compress(zlib: [0, 3])), end])
        assertRefused(paletteFile, "palette index 3 out of range")
        // The same chunks with a valid layout decode, so the refusals above are about the damage.
        XCTAssertEqual(try PNG.decode(file(header(5, 4), [("tEXt", [65, 0, 66]), idat, end])).pixels, [UInt8](repeating: 90, count: 60))
    }

    /// 2,000 seeded damaged copies of the reference PNGs: flipped bytes (half of them with every
    /// CRC recomputed, so the damage reaches inflate and the filters), or truncation. Each must
    /// decode or throw; a trap or hang fails the run.
    func testFuzzNeverTraps() throws {
        var rng = SeededGenerator(seed: 6)
        let names = ["gray2_filters", "gray4_interlaced", "rgb16_filters", "palette4_trns_interlaced",
                     "rgb8_multi_idat", "rgb8_zlib_level9", "rgb8_zlib_level0", "gray_alpha8", "rgba16_interlaced"]
        let seeds = try names.map { try Fixture.bytes("png/\($0).png") }
        var decoded = 0, threw = 0
        for round in 0..<2000 {
            var png = seeds[round % seeds.count]
            switch round % 4 {
            case 0:
                png = Array(png.prefix(Int.random(in: 0..<png.count, using: &rng)))
            case 1:
                for _ in 0...Int.random(in: 0...3, using: &rng) {
                    png[Int.random(in: 0..<png.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            default:
                // Damage chunk data only, then repair every CRC.
                var chunks = PNGBuilder.chunks(png)
                for _ in 0...Int.random(in: 0...2, using: &rng) {
                    let k = Int.random(in: 0..<chunks.count, using: &rng)
                    guard !chunks[k].1.isEmpty else { continue }
                    chunks[k].1[Int.random(in: 0..<chunks[k].1.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
                png = PNGBuilder.assemble(chunks)
            }
            do { _ = try PNG.decode(png); decoded += 1 } catch { threw += 1 }
        }
        XCTAssertEqual(decoded + threw, 2000)
        XCTAssertGreaterThan(threw, 1500)
    }
}
