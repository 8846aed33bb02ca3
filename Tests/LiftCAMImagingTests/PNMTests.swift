import LiftCAMImaging
import XCTest

/// PGM/PPM decoding of files written by the generator (8-bit ones also checked against Pillow
/// there), encoding round trips, refusals and a seeded fuzz.
final class PNMTests: XCTestCase {
    func testDecodesEveryReferenceExactly() throws {
        let manifest = try Fixture.table("pnm/manifest.txt")
        XCTAssertEqual(manifest.count, 6)
        for entry in manifest {
            let image = try PNM.decode(try Fixture.bytes("pnm/\(entry[0])"))
            XCTAssertEqual([image.width, image.height, image.channels], [Int(entry[1])!, Int(entry[2])!, Int(entry[3])!], entry[0])
            XCTAssertEqual(image.pixels, try Fixture.bytes("pnm/expected/\(entry[0]).bin"), entry[0])
        }
    }

    /// Hand-computed scaling: round(v · 255 / maxval), halves up.
    func testScalingByHand() throws {
        let plain = Array("P2\n# c\n4 1 10\n0 1 5 10".utf8)
        XCTAssertEqual(try PNM.decode(plain).pixels, [0, 26, 128, 255])   // 25.5 → 26, 127.5 → 128
        let wide = Array("P5 2 1 65535\n".utf8) + [0x80, 0x00, 0xFF, 0xFF]
        XCTAssertEqual(try PNM.decode(wide).pixels, [128, 255])   // 32768 · 255 / 65535 = 127.502
    }

    func testRoundTrip() throws {
        var rng = SeededGenerator(seed: 7)
        let rgb = try rng.image(width: 9, height: 4, channels: 3)
        XCTAssertEqual(try PNM.decode(PNM.encodePPM(rgb)), rgb)
        let gray = try rng.image(width: 3, height: 8, channels: 1)
        XCTAssertEqual(try PNM.decode(PNM.encodePGM(gray)), gray)
        XCTAssertEqual(try PNM.decode(PNM.encodePPM(gray)), gray.rgb())
        XCTAssertEqual(try PNM.decode(PNM.encodePGM(rgb)), rgb.gray())
        let rgba = try rng.image(width: 2, height: 2, channels: 4)
        XCTAssertEqual(try PNM.decode(PNM.encodePPM(rgba)), rgba.rgb())
    }

    func assertRefused(_ text: String, _ fragment: String, extra: [UInt8] = [], line: UInt = #line) {
        XCTAssertThrowsError(try PNM.decode(Array(text.utf8) + extra), line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", line: line)
        }
    }

    func testRefusesBadFiles() {
        assertRefused("", "bad magic")
        assertRefused("GIF89a", "bad magic")
        assertRefused("P1\n1 1\n1", "P1 is not supported")
        assertRefused("P5\n2 2\n", "ends before the maxval")
        assertRefused("P5\n2 2\n0\n", "maxval 0")
        assertRefused("P5\n2 2\n70000\n", "maxval 70000")
        assertRefused("P5\n0 2\n255\n", "empty")
        assertRefused("P6\n100000 100000\n255\n", "exceeds the limit")
        assertRefused("P5\n99999999999 1\n255\n", "too large")
        assertRefused("P5\n2 x\n255\n", "expected a number for the height")
        assertRefused("P5\n2 2\n255\n", "raster is", extra: [1, 2, 3])
        assertRefused("P5\n2 1\n255", "raster is", extra: [])
        assertRefused("P2\n2 1\n15\n3 16", "sample 16 exceeds maxval 15")
        assertRefused("P3\n2 1\n255\n1 2 3 4 5", "ends before the sample 6")
        assertRefused("P5\n1 1\n300\n", "exceeds maxval", extra: [0xFF, 0xFF])
    }

    func testFuzzNeverTraps() throws {
        var rng = SeededGenerator(seed: 8)
        let seeds = try ["gray8.pgm", "rgb_ascii.ppm", "gray16.pgm", "gray_ascii_max15.pgm"].map { try Fixture.bytes("pnm/\($0)") }
        var outcomes = 0
        for round in 0..<1000 {
            var file = seeds[round % seeds.count]
            if round % 3 == 0 {
                file = Array(file.prefix(Int.random(in: 0..<file.count, using: &rng)))
            } else {
                // Damage the header region most of the time: that is where the parser branches.
                let span = round % 3 == 1 ? min(file.count, 60) : file.count
                for _ in 0...Int.random(in: 0...3, using: &rng) {
                    file[Int.random(in: 0..<span, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do { _ = try PNM.decode(file) } catch {}
            outcomes += 1
        }
        XCTAssertEqual(outcomes, 1000)
    }
}
