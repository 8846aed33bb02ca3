import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

// PNG: byte mutations are mostly stopped by the chunk CRCs, so two of the three mutation modes
// repair them, and one rebuilds the file from mutated parts (IHDR fields, palette, scanlines)
// with valid checksums and a valid zlib stream, to reach the filters and sample conversion.

/// The parts of a PNG file, enough to rebuild one.
struct PNGParts {
    var ihdr: [UInt8]          // 13 bytes: width, height, depth, colour type, compression, filter, interlace
    var palette: [UInt8]?
    var alphas: [UInt8]?
    var raw: [UInt8]           // the inflated, still filtered scanlines

    /// Signature, IHDR, PLTE, tRNS, IDAT (in `idatPieces` chunks), IEND, every CRC right.
    func encoded(idatPieces: Int = 1, compression: PNGCompression = .fixedHuffman) -> [UInt8] {
        var out = PNG.signatureBytes + pngChunk("IHDR", ihdr)
        if let palette { out += pngChunk("PLTE", palette) }
        if let alphas { out += pngChunk("tRNS", alphas) }
        let zlib = Deflate.compress(zlib: raw, level: compression)
        let pieces = max(1, min(idatPieces, zlib.count))
        for piece in 0..<pieces {
            out += pngChunk("IDAT", Array(zlib[piece * zlib.count / pieces ..< (piece + 1) * zlib.count / pieces]))
        }
        return out + pngChunk("IEND", [])
    }

    /// The parts of a valid PNG (a seed); nil for anything else.
    init?(decoding bytes: [UInt8]) {
        var ihdr: [UInt8]?, idat: [UInt8] = []
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bigEndian32(bytes, offset))
            guard offset + 12 + length <= bytes.count else { return nil }
            let type = String(decoding: bytes[offset + 4 ..< offset + 8], as: UTF8.self)
            let data = Array(bytes[offset + 8 ..< offset + 8 + length])
            switch type {
            case "IHDR": ihdr = data
            case "PLTE": palette = data
            case "tRNS": alphas = data
            case "IDAT": idat += data
            default: break
            }
            offset += 12 + length
        }
        guard let ihdr, let raw = try? Inflate.decompress(zlib: idat) else { return nil }
        self.ihdr = ihdr
        self.raw = raw
    }

    init(ihdr: [UInt8], palette: [UInt8]?, alphas: [UInt8]?, raw: [UInt8]) {
        (self.ihdr, self.palette, self.alphas, self.raw) = (ihdr, palette, alphas, raw)
    }
}

extension PNG {
    static var signatureBytes: [UInt8] { [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] }
}

func bigEndian32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Length, type, data, CRC-32 of type and data.
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return bigEndianBytes(UInt32(data.count)) + body + bigEndianBytes(Checksum.crc32(body))
}

/// Recomputes the CRC of every chunk whose length still fits in the file.
func repairingPNGChecksums(_ bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    var offset = 8
    while offset + 12 <= out.count {
        let length = Int(bigEndian32(out, offset))
        guard offset + 12 + length <= out.count else { break }
        let crc = bigEndianBytes(Checksum.crc32(out[offset + 4 ..< offset + 8 + length]))
        out.replaceSubrange(offset + 8 + length ..< offset + 12 + length, with: crc)
        offset += 12 + length
    }
    return out
}

/// Bytes of filtered scanlines a valid image of this header has: every Adam7 pass (or the one
/// pass) contributes rows of 1 filter byte + ⌈pixels · samples · depth / 8⌉.
func pngRawSize(width: Int, height: Int, depth: Int, colorType: Int, interlaced: Bool) -> Int {
    let samples = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
    let passes = interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] : [(0, 0, 1, 1)]
    return passes.reduce(0) { total, pass in
        let w = (width - pass.0 + pass.2 - 1) / pass.2, h = (height - pass.1 + pass.3 - 1) / pass.3
        return w == 0 || h == 0 ? total : total + h * (1 + (w * samples * depth + 7) / 8)
    }
}

/// Valid PNG files of every colour type and bit depth, plain and interlaced, with palettes with
/// and without transparency; pixels and filter types drawn from `seed`.
func pngSeeds(seed: UInt64) -> [[UInt8]] {
    var mutator = Mutator(seed: seed)
    let kinds: [(colorType: Int, depth: Int)] = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2),
                                                 (3, 4), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16)]
    var seeds: [[UInt8]] = []
    for (n, kind) in kinds.enumerated() {
        let (width, height) = [(5, 4), (9, 7), (1, 1), (12, 3)][n % 4]
        for interlaced in [false, true] where !(interlaced && n % 3 == 1) {
            let ihdr = bigEndianBytes(UInt32(width)) + bigEndianBytes(UInt32(height))
                + [UInt8(kind.depth), UInt8(kind.colorType), 0, 0, interlaced ? 1 : 0]
            let size = pngRawSize(width: width, height: height, depth: kind.depth, colorType: kind.colorType, interlaced: interlaced)
            var raw = (0..<size).map { _ in UInt8(mutator.int(0...255)) }
            // Filter bytes 0–4 at the start of each row; a palette of 2^depth entries makes every index valid.
            let rowStarts = pngRowStarts(width: width, height: height, depth: kind.depth, colorType: kind.colorType, interlaced: interlaced)
            for start in rowStarts { raw[start] = UInt8(mutator.int(0...4)) }
            let entries = 1 << min(kind.depth, 8)
            let palette = kind.colorType == 3 ? (0..<3 * entries).map { _ in UInt8(mutator.int(0...255)) } : nil
            let alphas = kind.colorType == 3 && n % 2 == 0 ? (0..<max(1, entries / 2)).map { _ in UInt8(mutator.int(0...255)) } : nil
            let parts = PNGParts(ihdr: ihdr, palette: palette, alphas: alphas, raw: raw)
            seeds.append(parts.encoded(idatPieces: 1 + n % 3, compression: n % 2 == 0 ? .fixedHuffman : .stored))
        }
    }
    let picture = try! Image(width: 6, height: 5, channels: 3, pixels: (0..<90).map { UInt8($0 * 7 % 256) })
    seeds.append(PNG.encode(picture))
    return seeds
}

/// Offsets of the filter byte of every scanline of every pass.
func pngRowStarts(width: Int, height: Int, depth: Int, colorType: Int, interlaced: Bool) -> [Int] {
    let samples = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
    let passes = interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] : [(0, 0, 1, 1)]
    var starts: [Int] = [], offset = 0
    for pass in passes {
        let w = (width - pass.0 + pass.2 - 1) / pass.2, h = (height - pass.1 + pass.3 - 1) / pass.3
        guard w > 0 && h > 0 else { continue }
        for _ in 0..<h {
            starts.append(offset)
            offset += 1 + (w * samples * depth + 7) / 8
        }
    }
    return starts
}

/// A mutation of a valid PNG: raw bytes (CRCs left wrong), raw bytes with CRCs repaired, or a file
/// rebuilt from mutated parts.
func mutatePNG(_ mutator: inout Mutator, _ seed: [UInt8]) -> [UInt8] {
    switch mutator.int(0...3) {
    case 0: return mutator.mutate(seed)
    case 1: return repairingPNGChecksums(mutator.mutate(seed))
    default:
        guard var parts = PNGParts(decoding: seed) else { return mutator.mutate(seed) }
        for _ in 0..<mutator.int(1...3) {
            switch mutator.int(0...6) {
            case 0:   // width or height: a boundary value (huge, 0, 2^31, ...)
                parts.ihdr = mutator.overwriteInteger(parts.ihdr, at: mutator.pick([0, 4]), width: 4, bigEndian: true)
            case 1:   // depth, colour type, compression, filter or interlace byte
                if parts.ihdr.count == 13 { parts.ihdr[mutator.int(8...12)] = mutator.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 255]) }
            case 2, 3: parts.raw = mutator.mutate(parts.raw)
            case 4:   // a filter byte past 4
                if !parts.raw.isEmpty { parts.raw[mutator.int(0...parts.raw.count - 1)] = mutator.pick([5, 255]) }
            case 5:   // palette and transparency: dropped, emptied, resized
                if mutator.chance(1, in: 2) {
                    parts.palette = mutator.pick([nil, [], [1, 2, 3], (0..<771).map { UInt8(truncatingIfNeeded: $0) }])
                } else {
                    parts.alphas = mutator.pick([nil, [], [0], (0..<300).map { UInt8(truncatingIfNeeded: $0) }])
                }
            default:
                parts.ihdr = mutator.mutate(parts.ihdr)
            }
        }
        var out = parts.encoded(idatPieces: mutator.int(1...3), compression: mutator.chance(1, in: 2) ? .stored : .fixedHuffman)
        if mutator.chance(1, in: 4) {   // chunks out of order, unknown, or missing
            let extra = pngChunk(mutator.pick(["ABCD", "teXt", "IHDR", "PLTE", "IDAT", "IEND", "tRNS"]), mutator.mutate([1, 2, 3]))
            let at = mutator.pick([8, 33, out.count - 12, out.count])
            out.insert(contentsOf: extra, at: min(at, out.count))
        }
        return out
    }
}

/// PNG.decode on the bytes; a decoded image must have the size its header says, within the limit.
func pngTarget(seed: UInt64) -> FuzzTarget {
    FuzzTarget(name: "png", seeds: pngSeeds(seed: seed), errorPrefix: "PNG: ", mutate: mutatePNG) { bytes in
        let image = try PNG.decode(bytes)
        guard image.width * image.height <= Image.maxPixelCount, [1, 3, 4].contains(image.channels),
              image.pixels.count == image.width * image.height * image.channels,
              Int(bigEndian32(bytes, 16)) == image.width, Int(bigEndian32(bytes, 20)) == image.height else {
            throw FuzzInvariantViolation("decoded \(image.width)x\(image.height)x\(image.channels) disagrees with the IHDR")
        }
        return []
    }
}
