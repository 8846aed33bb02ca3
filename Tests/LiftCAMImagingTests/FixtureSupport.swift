import Foundation
import LiftCAMImaging

/// Reads the reference files written by Fixtures/images/make_image_fixtures.py.
enum Fixture {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(path)))
    }

    /// Little-endian float32 values.
    static func floats(_ path: String) throws -> [Float] {
        let raw = try bytes(path)
        return stride(from: 0, to: raw.count, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
    }

    /// Non-empty lines that are not '#' comments, split on spaces.
    static func table(_ path: String) throws -> [[String]] {
        let text = String(decoding: try bytes(path), as: UTF8.self)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").map(String.init) }
    }
}

/// SplitMix64: a tiny seeded generator so every "random" test input is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// An image whose rows mix noise, flat runs and gradients, so every PNG filter and LZ77 get work.
    mutating func image(width: Int, height: Int, channels: Int) throws -> Image {
        var pixels = [UInt8]()
        for y in 0..<height {
            let style = Int.random(in: 0..<3, using: &self)
            for x in 0..<width {
                for c in 0..<channels {
                    switch style {
                    case 0: pixels.append(UInt8.random(in: 0...255, using: &self))
                    case 1: pixels.append(UInt8(truncatingIfNeeded: 40 * c + y))
                    default: pixels.append(UInt8(truncatingIfNeeded: 3 * x + 7 * y + 50 * c))
                    }
                }
            }
        }
        return try Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}

/// A PNG assembled chunk by chunk, for files the encoder would never write.
enum PNGBuilder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func uint32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return uint32(UInt32(data.count)) + body + uint32(Checksum.crc32(body))
    }

    static func header(width: UInt32, height: UInt32, depth: UInt8, colorType: UInt8, interlace: UInt8 = 0) -> [UInt8] {
        chunk("IHDR", uint32(width) + uint32(height) + [depth, colorType, 0, 0, interlace])
    }

    /// Splits a PNG into (type, data) chunks (the input must be well formed).
    static func chunks(_ png: [UInt8]) -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = [], offset = 8
        while offset + 12 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            result.append((String(decoding: png[offset + 4..<offset + 8], as: UTF8.self), Array(png[offset + 8..<offset + 8 + length])))
            offset += 12 + length
        }
        return result
    }

    static func assemble(_ chunks: [(String, [UInt8])]) -> [UInt8] {
        signature + chunks.flatMap { chunk($0.0, $0.1) }
    }
}
